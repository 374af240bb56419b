"""VO2max Report analysis service package."""
