"""One reader per file format: bytes in, records of text out, or a reason the file is unreadable.

extracted.py holds what every reader returns (Record, Attachment, Unreadable); text.py, html.py,
pdf.py, docx.py, tabular.py and mail.py read one family of formats each and know nothing of the
others; dispatch.py holds the one table from file suffix to reader, with the options each format is
handed, and reads an e-mail's attachments through that same table. limits.py holds what reading
one file may cost (ingest.limits) and the watchdog that runs the readers in a helper process.
"""
