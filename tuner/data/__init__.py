"""Training-data preflight: layouts, duplicates, contamination, PII, unsafe content, imbalance, lengths, split."""

from tuner.data.io import DataFile, read_data, write_records
from tuner.data.preflight import PreflightOptions, check_file, preflight, write_redacted
from tuner.data.report import DataReport, Finding, print_report
from tuner.data.schema import Example, Method, parse_examples
from tuner.data.split import Split, split_examples, split_manifest, write_split

__all__ = ["DataFile", "DataReport", "Example", "Finding", "Method", "PreflightOptions", "Split", "check_file",
           "parse_examples", "preflight", "print_report", "read_data", "split_examples", "split_manifest",
           "write_records", "write_redacted", "write_split"]
