"""Mechanism shared by every VO2max Report service. No domain logic lives here."""
