"""Zero-trust security: assume the model is compromised, and hold anyway.

Untrusted data carries provenance labels (`taint`), may never choose which side effects happen or
where data goes (`policy`, `egress`), is read only by a quarantined model that returns typed
values (`quarantine`), is marked and scanned before any model sees it (`spotlight`, `detector`),
and nothing secret leaves (`dlp`).
"""
