"""Bulk import of contacts from CSV and XLSX, streaming, as a job in the worker."""
