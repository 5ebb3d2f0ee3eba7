"""Writes resources/forms/individual_kyc_v1.json and _v2.json from the tables below.

The JSON files are what the app loads (and what a form designer edits later); this
script is how the first versions were produced. Run: python tools/make_forms.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "resources" / "forms"

COUNTRIES = [("GB", "United Kingdom"), ("IE", "Ireland"), ("FR", "France"), ("DE", "Germany"),
             ("ES", "Spain"), ("IT", "Italy"), ("PL", "Poland"), ("RO", "Romania"),
             ("IN", "India"), ("PK", "Pakistan"), ("NG", "Nigeria"), ("TR", "Türkiye"),
             ("US", "United States"), ("CN", "China"), ("OTHER", "Other")]


ACRONYMS = {"id": "ID", "uv": "UV", "pep": "PEP", "nfc": "NFC"}


def opts(*pairs: str | tuple[str, str]) -> list[dict[str, str]]:
    out = []
    for pair in pairs:
        if isinstance(pair, tuple):
            out.append({"value": pair[0], "label": pair[1]})
        else:
            words = pair.replace("_", " ").capitalize().split(" ")
            out.append({"value": pair, "label": " ".join(
                ACRONYMS.get(w.lower(), w) for w in words)})
    return out


def f(key: str, label: str, kind: str, **extra: Any) -> dict[str, Any]:
    field: dict[str, Any] = {"key": key, "label": label, "kind": kind}
    field.update(extra)
    return field


def when(field: str, **cond: Any) -> dict[str, Any]:
    return {"visible_when": {"field": field, **cond}}


YES = {"equals": True}
NO = {"equals": False}
TODAY = "today"
POSTCODE = r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$"
# Postcode formats of the demo's countries; a country not listed has no fixed format
# (Ireland's Eircode is optional in practice, and "Other" could be anywhere).
POSTCODES = {
    "GB": (POSTCODE, "A UK postcode such as LS1 4AP"),
    "FR": (r"^[0-9]{5}$", "Five digits, such as 75008"),
    "DE": (r"^[0-9]{5}$", "Five digits, such as 10115"),
    "ES": (r"^[0-9]{5}$", "Five digits, such as 28013"),
    "IT": (r"^[0-9]{5}$", "Five digits, such as 00184"),
    "PL": (r"^[0-9]{2}-[0-9]{3}$", "Two digits, a dash and three digits, such as 00-950"),
    "RO": (r"^[0-9]{6}$", "Six digits, such as 010011"),
    "IN": (r"^[1-9][0-9]{5}$", "A six-digit PIN code, such as 110001"),
    "PK": (r"^[0-9]{5}$", "Five digits, such as 44000"),
    "NG": (r"^[0-9]{6}$", "Six digits, such as 100001"),
    "TR": (r"^[0-9]{5}$", "Five digits, such as 06100"),
    "US": (r"^[0-9]{5}(-[0-9]{4})?$", "A ZIP code such as 20500 or 20500-0003"),
    "CN": (r"^[0-9]{6}$", "Six digits, such as 100000"),
}


def postcode_format(country_field: str) -> dict[str, Any]:
    return {"format_by": {"field": country_field, "formats": {
        code: {"pattern": pattern, "message": message}
        for code, (pattern, message) in POSTCODES.items()}}}
NINO = r"^[A-CEGHJ-PR-TW-Z]{2}[0-9]{6}[A-D]$"


def steps_v1() -> list[dict[str, Any]]:
    applicant = [
        f("applicant.title", "Title", "single_choice",
          options=opts("mr", "mrs", "ms", "mx", "dr")),
        f("applicant.first_name", "First name", "text", required=True, max_length=80),
        f("applicant.middle_names", "Middle names", "text", max_length=120),
        f("applicant.last_name", "Last name", "text", required=True, max_length=80),
        f("applicant.previous_names", "Previous names", "text", max_length=200,
          help="Maiden or other names used in the last 6 years"),
        f("applicant.date_of_birth", "Date of birth", "date", required=True,
          min_date="1900-01-01", max_date=TODAY),
        f("applicant.place_of_birth", "Place of birth", "text", required=True, max_length=120),
        f("applicant.country_of_birth", "Country of birth", "single_choice", required=True,
          options=opts(*COUNTRIES)),
        f("applicant.nationality", "Nationality", "single_choice", required=True,
          options=opts(*COUNTRIES)),
        f("applicant.has_second_nationality", "Has a second nationality", "yes_no"),
        f("applicant.second_nationality", "Second nationality", "single_choice",
          options=opts(*COUNTRIES), required=True,
          **when("applicant.has_second_nationality", **YES)),
        f("applicant.gender", "Gender", "single_choice",
          options=opts("female", "male", "non_binary", ("undisclosed", "Prefer not to say"))),
        f("applicant.marital_status", "Marital status", "single_choice",
          options=opts("single", "married", "civil_partnership", "divorced", "widowed")),
        f("applicant.dependants", "Number of dependants", "integer", minimum=0, maximum=20),
        f("applicant.phone_mobile", "Mobile phone", "phone", required=True),
        f("applicant.phone_home", "Home phone", "phone"),
        f("applicant.email", "Email", "email", required=True),
        f("applicant.preferred_language", "Preferred language", "single_choice",
          options=opts(("en", "English"), ("pl", "Polish"), ("ro", "Romanian"), ("ur", "Urdu"),
                       ("pa", "Punjabi"), ("ar", "Arabic"), ("other", "Other"))),
        f("applicant.needs_interpreter", "Interpreter needed", "yes_no"),
        f("applicant.interpreter_language", "Interpreter language", "text", required=True,
          **when("applicant.needs_interpreter", **YES)),
        f("applicant.national_insurance_number", "National Insurance number", "id_number",
          pattern=NINO, pattern_message="Use the format QQ123456C"),
        f("applicant.tax_residency_country", "Country of tax residence", "single_choice",
          required=True, options=opts(*COUNTRIES)),
        f("applicant.has_other_tax_residency", "Tax resident in another country", "yes_no"),
        f("applicant.other_tax_country", "Other country of tax residence", "single_choice",
          options=opts(*COUNTRIES), required=True,
          **when("applicant.has_other_tax_residency", **YES)),
        f("applicant.other_tax_id", "Tax identification number there", "id_number",
          pattern=r"^[A-Z0-9-]{5,20}$", pattern_message="5–20 letters, digits or dashes",
          **when("applicant.has_other_tax_residency", **YES)),
        f("applicant.vulnerable_customer", "Signs of vulnerability observed", "yes_no"),
        f("applicant.vulnerability_notes", "Vulnerability notes", "multiline", max_length=2000,
          **when("applicant.vulnerable_customer", **YES)),
    ]
    identity = [
        f("identity.document_type", "Document type", "single_choice", required=True,
          options=opts("passport", "national_id", "driving_licence", "residence_permit")),
        f("identity.document_number", "Document number", "id_number", required=True,
          pattern=r"^[A-Z0-9]{6,12}$", pattern_message="6–12 capital letters or digits"),
        f("identity.issuing_country", "Issuing country", "single_choice", required=True,
          options=opts(*COUNTRIES)),
        f("identity.issuing_authority", "Issuing authority", "text", max_length=120),
        f("identity.issue_date", "Issue date", "date", required=True, max_date=TODAY),
        f("identity.expiry_date", "Expiry date", "date", required=True, min_date=TODAY,
          help="Expired documents are not accepted"),
        f("identity.mrz_line1", "MRZ line 1", "text", pattern=r"^[A-Z0-9<]{44}$",
          pattern_message="44 characters of A–Z, 0–9 and <",
          **when("identity.document_type", equals="passport")),
        f("identity.mrz_line2", "MRZ line 2", "text", pattern=r"^[A-Z0-9<]{44}$",
          pattern_message="44 characters of A–Z, 0–9 and <",
          **when("identity.document_type", equals="passport")),
        f("identity.licence_categories", "Licence categories", "multi_choice",
          options=opts("AM", "A", "B", "BE", "C", "CE", "D", "DE"),
          **when("identity.document_type", equals="driving_licence")),
        f("identity.permit_type", "Permit type", "single_choice",
          options=opts("settled", "pre_settled", "work", "study", "family"),
          required=True, **when("identity.document_type", equals="residence_permit")),
        f("identity.seen_original", "Original document seen", "yes_no", required=True),
        f("identity.document_condition", "Document condition", "single_choice",
          options=opts("good", "worn", "damaged")),
        f("identity.damage_description", "Describe the damage", "multiline", required=True,
          **when("identity.document_condition", equals="damaged")),
        f("identity.security_features_checked", "Security features checked", "multi_choice",
          options=opts("hologram", "watermark", "microprint", "uv_features", "chip",
                       ("laser_perforation", "Laser perforation"))),
        f("identity.photo_matches_applicant", "Photo matches the applicant", "yes_no",
          required=True),
        f("identity.name_matches_application", "Name matches the application", "yes_no",
          required=True),
        f("identity.name_mismatch_reason", "Reason for the name difference", "multiline",
          required=True, **when("identity.name_matches_application", **NO)),
        f("identity.has_second_document", "Second document provided", "yes_no"),
        f("identity.second_document_type", "Second document type", "single_choice",
          options=opts("passport", "national_id", "driving_licence", "residence_permit",
                       "birth_certificate"),
          **when("identity.has_second_document", **YES)),
        f("identity.second_document_number", "Second document number", "id_number",
          pattern=r"^[A-Z0-9]{6,12}$", pattern_message="6–12 capital letters or digits",
          **when("identity.has_second_document", **YES)),
    ]
    address = [
        f("address.line1", "Address line 1", "text", required=True, max_length=120),
        f("address.line2", "Address line 2", "text", max_length=120),
        f("address.city", "Town or city", "text", required=True, max_length=80),
        f("address.region", "County or region", "text", max_length=80),
        f("address.country", "Country", "single_choice", required=True, options=opts(*COUNTRIES)),
        f("address.postcode", "Postcode", "text", required=True,
          help="In the format of the country above", **postcode_format("address.country")),
        f("address.moved_in", "Moved in on", "date", required=True, max_date=TODAY),
        f("address.residential_status", "Residential status", "single_choice", required=True,
          options=opts("owner", "mortgage", "renting", "living_with_family", "council",
                       "other")),
        f("address.monthly_rent", "Monthly rent (£)", "decimal", minimum=0, maximum=100000,
          decimals=2, **when("address.residential_status", equals="renting")),
        f("address.landlord_name", "Landlord or agent", "text",
          **when("address.residential_status", equals="renting")),
        f("address.less_than_three_years", "Lived here less than 3 years", "yes_no",
          required=True),
        f("address.previous_line1", "Previous address line 1", "text", required=True,
          **when("address.less_than_three_years", **YES)),
        f("address.previous_line2", "Previous address line 2", "text",
          **when("address.less_than_three_years", **YES)),
        f("address.previous_city", "Previous town or city", "text", required=True,
          **when("address.less_than_three_years", **YES)),
        f("address.previous_country", "Previous country", "single_choice",
          options=opts(*COUNTRIES), **when("address.less_than_three_years", **YES)),
        f("address.previous_postcode", "Previous postcode", "text",
          **postcode_format("address.previous_country"),
          **when("address.less_than_three_years", **YES)),
        f("address.previous_moved_out", "Moved out on", "date", max_date=TODAY,
          **when("address.less_than_three_years", **YES)),
        f("address.correspondence_same", "Post goes to this address", "yes_no", required=True),
        f("address.correspondence_line1", "Correspondence address line 1", "text",
          required=True, **when("address.correspondence_same", **NO)),
        f("address.correspondence_line2", "Correspondence address line 2", "text",
          **when("address.correspondence_same", **NO)),
        f("address.correspondence_city", "Correspondence town or city", "text", required=True,
          **when("address.correspondence_same", **NO)),
        f("address.correspondence_postcode", "Correspondence postcode", "text",
          pattern=POSTCODE, pattern_message="A UK postcode such as LS1 4AP",
          **when("address.correspondence_same", **NO)),
        f("address.correspondence_country", "Correspondence country", "single_choice",
          options=opts(*COUNTRIES), **when("address.correspondence_same", **NO)),
        f("address.proof_type", "Proof of address", "single_choice", required=True,
          options=opts("utility_bill", "bank_statement", "council_tax", "tenancy_agreement",
                       "government_letter")),
        f("address.proof_date", "Date on the proof", "date", required=True, max_date=TODAY,
          help="Must be less than 3 months old"),
    ]
    employment = [
        f("employment.status", "Employment status", "single_choice", required=True,
          options=opts("employed", "self_employed", "unemployed", "retired", "student",
                       "homemaker")),
        f("employment.employer_name", "Employer", "text", required=True,
          **when("employment.status", equals="employed")),
        f("employment.job_title", "Job title", "text",
          **when("employment.status", one_of=["employed", "self_employed"])),
        f("employment.employer_address", "Employer address", "multiline",
          **when("employment.status", equals="employed")),
        f("employment.start_date", "Started on", "date", max_date=TODAY,
          **when("employment.status", one_of=["employed", "self_employed"])),
        f("employment.contract_type", "Contract", "single_choice",
          options=opts("permanent", "fixed_term", "zero_hours", "agency"),
          **when("employment.status", equals="employed")),
        f("employment.industry", "Industry", "single_choice",
          options=opts("construction", "retail", "hospitality", "health", "education",
                       "finance", "technology", "transport", "manufacturing", "public_sector",
                       "cash_intensive_business", "other")),
        f("employment.business_name", "Business name", "text", required=True,
          **when("employment.status", equals="self_employed")),
        f("employment.business_registration", "Company or UTR number", "id_number",
          pattern=r"^[0-9A-Z]{8,10}$", pattern_message="8–10 letters or digits",
          **when("employment.status", equals="self_employed")),
        f("employment.business_address", "Business address", "multiline",
          **when("employment.status", equals="self_employed")),
        f("employment.years_trading", "Years trading", "integer", minimum=0, maximum=80,
          **when("employment.status", equals="self_employed")),
        f("employment.annual_income", "Annual gross income (£)", "decimal", required=True,
          minimum=0, maximum=100000000, decimals=2),
        f("employment.income_verified", "Income evidence seen", "yes_no"),
        f("employment.income_evidence", "Income evidence", "multi_choice",
          options=opts("payslips", "bank_statements", "tax_return", "accounts",
                       "pension_statement", "benefit_letter"),
          **when("employment.income_verified", **YES)),
        f("employment.other_income_sources", "Other income", "multi_choice",
          options=opts("rental", "investments", "pension", "benefits", "family_support",
                       "other")),
        f("employment.other_income_amount", "Other income per year (£)", "decimal", minimum=0,
          decimals=2, **when("employment.other_income_sources", not_empty=True)),
        f("employment.source_of_wealth", "Source of wealth", "multi_choice", required=True,
          options=opts("salary", "business", "inheritance", "property_sale", "investments",
                       "savings", "gift", "other")),
        f("employment.source_of_wealth_details", "Source of wealth details", "multiline",
          max_length=2000),
        f("employment.source_of_funds", "Source of funds for this account", "single_choice",
          required=True, options=opts("salary", "business_income", "savings", "benefits",
                                      "pension", "other")),
        f("employment.expected_monthly_deposits", "Expected monthly deposits (£)", "decimal",
          required=True, minimum=0, decimals=2),
        f("employment.expected_cash_deposits", "Expects cash deposits", "yes_no"),
        f("employment.expected_cash_amount", "Expected cash per month (£)", "decimal",
          minimum=0, decimals=2, **when("employment.expected_cash_deposits", **YES)),
        f("employment.international_transfers", "Expects international transfers", "yes_no"),
        f("employment.transfer_countries", "Countries of transfers", "multi_choice",
          options=opts(*COUNTRIES), **when("employment.international_transfers", **YES)),
        f("employment.purpose_of_account", "Purpose of the account", "single_choice",
          required=True, options=opts("everyday_banking", "savings", "business", "salary",
                                      "remittances", "other")),
    ]
    declarations = [
        f("declarations.pep", "Politically exposed person", "yes_no", required=True,
          help="Holds or held a prominent public function in the last 12 months"),
        f("declarations.pep_role", "Public function", "text", required=True,
          **when("declarations.pep", **YES)),
        f("declarations.pep_country", "Country of the function", "single_choice",
          options=opts(*COUNTRIES), required=True, **when("declarations.pep", **YES)),
        f("declarations.pep_since", "Held since", "date", max_date=TODAY,
          **when("declarations.pep", **YES)),
        f("declarations.family_pep", "Family member is a PEP", "yes_no", required=True),
        f("declarations.family_pep_relationship", "Relationship", "single_choice",
          options=opts("spouse", "partner", "child", "parent", "sibling", "other"),
          required=True, **when("declarations.family_pep", **YES)),
        f("declarations.family_pep_name", "Family member's name", "text", required=True,
          **when("declarations.family_pep", **YES)),
        f("declarations.associate_pep", "Close associate of a PEP", "yes_no", required=True),
        f("declarations.associate_pep_details", "Associate details", "multiline",
          required=True, **when("declarations.associate_pep", **YES)),
        f("declarations.sanctions", "Subject to sanctions", "yes_no", required=True),
        f("declarations.sanctions_details", "Sanctions details", "multiline", required=True,
          **when("declarations.sanctions", **YES)),
        f("declarations.adverse_media", "Adverse media known", "yes_no", required=True),
        f("declarations.adverse_media_details", "Adverse media details", "multiline",
          required=True, **when("declarations.adverse_media", **YES)),
        f("declarations.criminal_convictions", "Unspent criminal convictions", "yes_no",
          required=True),
        f("declarations.conviction_details", "Conviction details", "multiline", required=True,
          **when("declarations.criminal_convictions", **YES)),
        f("declarations.bankruptcy", "Bankrupt or insolvent in the last 6 years", "yes_no",
          required=True),
        f("declarations.bankruptcy_details", "Bankruptcy details", "multiline",
          **when("declarations.bankruptcy", **YES)),
        f("declarations.third_party", "Acting on behalf of someone else", "yes_no",
          required=True),
        f("declarations.third_party_name", "Third party's name", "text", required=True,
          **when("declarations.third_party", **YES)),
        f("declarations.third_party_relationship", "Relationship to third party", "text",
          **when("declarations.third_party", **YES)),
        f("declarations.us_person", "US citizen or US tax resident", "yes_no", required=True),
        f("declarations.us_tin", "US taxpayer identification number", "id_number",
          pattern=r"^[0-9]{3}-?[0-9]{2}-?[0-9]{4}$",
          pattern_message="Nine digits, e.g. 123-45-6789",
          required=True, **when("declarations.us_person", **YES)),
    ]
    visit = [
        f("visit.date", "Visit date", "date", required=True, max_date=TODAY),
        f("visit.time", "Visit time", "text", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
          pattern_message="24-hour time such as 14:30"),
        f("visit.met_applicant", "Met the applicant in person", "yes_no", required=True),
        f("visit.person_met_name", "Name of the person met", "text", required=True,
          **when("visit.met_applicant", **NO)),
        f("visit.person_met_relationship", "Their relationship to the applicant", "text",
          **when("visit.met_applicant", **NO)),
        f("visit.property_type", "Property type", "single_choice", required=True,
          options=opts("detached", "semi_detached", "terraced", "flat", "bungalow",
                       "caravan", "commercial", "other")),
        f("visit.property_condition", "Property condition", "single_choice",
          options=opts("good", "fair", "poor")),
        f("visit.neighbourhood", "Neighbourhood", "single_choice",
          options=opts("residential", "mixed", "commercial", "industrial", "rural")),
        f("visit.name_on_door", "Applicant's name on door or mailbox", "yes_no"),
        f("visit.mail_seen", "Mail addressed to the applicant seen", "yes_no"),
        f("visit.occupants", "Number of occupants", "integer", minimum=0, maximum=50),
        f("visit.residence_confirmed", "Residence confirmed", "yes_no", required=True),
        f("visit.residence_not_confirmed_reason", "Why residence is not confirmed",
          "multiline", required=True, **when("visit.residence_confirmed", **NO)),
        f("visit.business_premises_visited", "Business premises visited", "yes_no"),
        f("visit.premises_description", "Premises description", "multiline", max_length=2000,
          **when("visit.business_premises_visited", **YES)),
        f("visit.signage_visible", "Business signage visible", "yes_no",
          **when("visit.business_premises_visited", **YES)),
        f("visit.staff_count", "Staff seen", "integer", minimum=0, maximum=10000,
          **when("visit.business_premises_visited", **YES)),
        f("visit.stock_visible", "Stock or activity visible", "yes_no",
          **when("visit.business_premises_visited", **YES)),
        f("visit.discrepancies", "Discrepancies with the application", "yes_no",
          required=True),
        f("visit.discrepancy_details", "Discrepancy details", "multiline", required=True,
          **when("visit.discrepancies", **YES)),
        f("visit.location_matches", "Device location matches the address", "yes_no"),
        f("visit.risk_indicators", "Risk indicators observed", "multi_choice",
          options=opts("reluctant_to_answer", "third_party_present", "inconsistent_story",
                       "document_concerns", "unusual_wealth", "none")),
        f("visit.observations", "Observations", "multiline", max_length=4000),
        f("visit.follow_up_needed", "Follow-up visit needed", "yes_no"),
        f("visit.follow_up_reason", "Follow-up reason", "multiline", required=True,
          **when("visit.follow_up_needed", **YES)),
    ]
    photos = [
        f("photos.id_front", "ID document — front", "photo", min_count=1, max_count=2),
        f("photos.id_back", "ID document — back", "photo", min_count=1, max_count=2),
        f("photos.selfie", "Applicant with document (selfie)", "photo", min_count=1, max_count=1),
        f("photos.address_proof", "Proof of address", "photo", min_count=1, max_count=3),
        # Site photos show a place, not a document: 3 MP is plenty and saves the link.
        f("photos.site", "Site photos", "photo", min_count=0, max_count=10, max_megapixels=3),
        f("photos.other", "Other documents", "photo", min_count=0, max_count=10),
    ]
    verifier = [
        f("verifier.name", "Verifier name", "text", required=True, default="profile:name"),
        f("verifier.employee_id", "Employee ID", "id_number", required=True,
          pattern=r"^V[0-9]{5}$", pattern_message="V followed by five digits",
          default="profile:employee_id"),
        f("verifier.outcome", "Recommendation", "single_choice", required=True,
          options=opts(("approve", "Recommend approval"), ("reject", "Recommend rejection"),
                       ("refer", "Refer for review"))),
        f("verifier.outcome_reason", "Reason", "multiline", required=True,
          **when("verifier.outcome", one_of=["reject", "refer"])),
        f("verifier.risk_rating", "Risk rating", "single_choice", required=True,
          options=opts("low", "medium", "high")),
        f("verifier.declaration_truthful", "I confirm the information is accurate", "yes_no",
          required=True),
        f("verifier.declaration_in_person", "I carried out this verification in person",
          "yes_no", required=True),
        f("verifier.declaration_data_protection",
          "The applicant was given the privacy notice", "yes_no", required=True),
        f("verifier.signature_name", "Signed (type your full name)", "text", required=True),
        f("verifier.signed_on", "Date", "date", required=True, max_date=TODAY, default=TODAY),
    ]
    return [
        {"id": "applicant", "title": "Applicant", "fields": applicant},
        {"id": "identity", "title": "Identity document", "fields": identity},
        {"id": "address", "title": "Addresses", "fields": address},
        {"id": "employment", "title": "Employment and income", "fields": employment},
        {"id": "declarations", "title": "PEP and sanctions", "fields": declarations},
        {"id": "visit", "title": "Field visit", "fields": visit},
        {"id": "photos", "title": "Photos", "fields": photos},
        {"id": "verifier", "title": "Verifier declaration", "fields": verifier},
    ]


def v2_from(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Version 2: renames, an added field, a removed field (its old values are kept)."""
    renames = {"applicant.phone_mobile": "applicant.mobile_phone",
               "address.postcode": "address.postal_code",
               "visit.observations": "visit.notes"}
    removed = {"applicant.previous_names"}
    out = []
    for step in steps:
        fields = []
        for original in step["fields"]:
            if original["key"] in removed:
                continue
            field = dict(original)
            field["key"] = renames.get(field["key"], field["key"])
            if "visible_when" in field:
                cond = dict(field["visible_when"])
                cond["field"] = renames.get(cond["field"], cond["field"])
                field["visible_when"] = cond
            fields.append(field)
            if field["key"] == "applicant.mobile_phone":
                fields.append(f("applicant.contact_time", "Best time to call", "single_choice",
                                options=opts("morning", "afternoon", "evening", "any")))
            if field["key"] == "identity.security_features_checked":
                fields.append(f("identity.chip_read", "Document chip read by NFC", "yes_no"))
        out.append({**step, "fields": fields})
    return out


def v3_from(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Version 3: the applicant signs the declarations (a signature field, required), and
    the ID document's photos are checked for a retake at capture (`check_quality`).
    Nothing renamed: a version-2 draft opens as it was and asks for the signature."""
    out = []
    for step in steps:
        fields = [{**field, "check_quality": True}
                  if field["key"] in ("photos.id_front", "photos.id_back") else field
                  for field in step["fields"]]
        if step["id"] == "declarations":
            fields.append(f("declarations.applicant_signature",
                            "Applicant's signature: I confirm these declarations are true",
                            "signature", required=True,
                            help="Sign with a finger, a pen or the mouse."))
        out.append({**step, "fields": fields})
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    v1 = steps_v1()
    summary: dict[str, Any] = {"reference_field": None,
               "name_fields": ["applicant.first_name", "applicant.last_name"],
               "id_fields": ["identity.document_number",
                             "applicant.national_insurance_number"]}
    defs: dict[str, dict[str, Any]] = {
        "individual_kyc_v1.json": {
            "form_id": "individual_kyc", "version": "1",
            "title": "Individual KYC verification", "summary": summary, "steps": v1},
        "individual_kyc_v2.json": {
            "form_id": "individual_kyc", "version": "2",
            "title": "Individual KYC verification", "summary": summary, "steps": v2_from(v1),
            "migrations": [{"from_version": "1",
                            "rename": {"applicant.phone_mobile": "applicant.mobile_phone",
                                       "address.postcode": "address.postal_code",
                                       "visit.observations": "visit.notes"}}]},
        "individual_kyc_v3.json": {
            "form_id": "individual_kyc", "version": "3",
            "title": "Individual KYC verification", "summary": summary,
            "steps": v3_from(v2_from(v1)),
            "migrations": [{"from_version": "2", "rename": {}}]},
    }
    for name, definition in defs.items():
        path = OUT / name
        # A shipped version is frozen: drafts were saved against it. Rewritten only if
        # what it defines changed (never, once shipped), not for layout.
        if not path.exists() or json.loads(path.read_text(encoding="utf-8")) != definition:
            path.write_text(json.dumps(definition, indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
        count = sum(len(s["fields"]) for s in definition["steps"])
        print(f"{name}: {len(definition['steps'])} steps, {count} fields")


if __name__ == "__main__":
    main()
