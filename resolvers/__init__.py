"""The service layer: every business rule and every permission decision lives here."""
