"""The codes an MRZ's issuing state and nationality may hold (ICAO Doc 9303 part 3, 5):
ISO 3166-1 alpha-3, plus the codes ICAO adds.

No check digit covers these fields, so an OCR slip (POL read as PQL) would otherwise be
offered to the form as read: a code outside this list is never offered, and a one-letter
OCR confusion that leads to exactly one code is corrected (`kycdesk.core.mrz`).
The ISO list is Debian's iso-codes 3166-1 (the ISO standard's public code list).
"""

from __future__ import annotations

_ISO_3166_ALPHA_3 = """
    ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN BES
    BFA BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE
    CHL CHN CIV CMR COD COG COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK
    DOM DZA ECU EGY ERI ESH ESP EST ETH FIN FJI FLK FRA FRO FSM GAB GBR GEO GGY GHA GIB
    GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV HTI HUN IDN IMN IND
    IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM KIR KNA KOR KWT LAO LBN
    LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT
    MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR
    NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK PRT PRY PSE PYF QAT REU ROU
    RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR SVK SVN
    SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA
    UKR UMI URY USA UZB VAT VCT VEN VGB VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE
"""

# Doc 9303 part 3, 5: Germany's one-letter code, the British nationality classes, the
# United Nations, the EU, the stateless and refugee codes, Kosovo, and Utopia (ICAO's
# specimen state, printed on every specimen document).
_ICAO_ADDED = """
    D EUE GBD GBN GBO GBP GBS UNA UNK UNO XBA XIM XCC XCE XCO XEC XES XMP XOM XPO XDC
    XXA XXB XXC XXX RKS UTO
"""

STATE_CODES: frozenset[str] = frozenset((_ISO_3166_ALPHA_3 + _ICAO_ADDED).split())
