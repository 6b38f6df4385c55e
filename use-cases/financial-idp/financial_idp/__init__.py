"""UC2 financial-idp: invoices and bank statements on FSx for ONTAP into validated extractions.

Invoices go through AnalyzeExpense (or, born-digital, the PDF text layer read into the same model),
statements through AnalyzeDocument tables; each document version gets one extraction with named
validation findings, and a dataset row for Athena. Built on ``shared.documents``.
"""
