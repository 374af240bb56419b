"""Django + DRF mechanism shared by identity, measurements, reports and notifications."""
