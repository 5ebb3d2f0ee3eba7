"""Qt models over the store and the form schema. No SQL here."""
