"""Reports generated from the published warehouse (the CAB meeting pack: :mod:`ingest.reports.cab`)."""
