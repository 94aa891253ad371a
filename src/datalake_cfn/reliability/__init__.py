"""Reliability: proving that nothing entering a zone is lost (`datalake verify`)."""
