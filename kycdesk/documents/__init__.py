"""Identity documents read for the verifier: the MRZ (and, later, the PDF417 barcode)."""
