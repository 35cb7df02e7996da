#!/usr/bin/env python3
"""update_doc.py DOC REPORT: replaces the text between
<!-- BEGIN RESULTS --> and <!-- END RESULTS --> in DOC with REPORT."""
import sys

BEGIN, END = "<!-- BEGIN RESULTS -->", "<!-- END RESULTS -->"


def main():
    doc_path, report_path = sys.argv[1], sys.argv[2]
    doc = open(doc_path).read()
    report = open(report_path).read().strip()
    i, j = doc.find(BEGIN), doc.find(END)
    if i < 0 or j < i:
        sys.exit(f"update_doc.py: {doc_path} has no {BEGIN} ... {END} section")
    doc = doc[: i + len(BEGIN)] + "\n" + report + "\n" + doc[j:]
    open(doc_path, "w").write(doc)


if __name__ == "__main__":
    main()
