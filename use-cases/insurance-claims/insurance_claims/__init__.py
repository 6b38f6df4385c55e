"""UC14 insurance-claims: claim photos and documents on FSx for ONTAP into one assessed claim file per claim.

Files are grouped by claim (``claims/<claim-id>/...``). Per file (``insurance_claims.evidence``):
photos go to Rekognition DetectLabels as JPEG bytes under 5 MB, estimates to AnalyzeExpense and
other documents to the text/forms path of ``shared.documents``. Per claim
(``insurance_claims.assessment``): a completeness check, rules with parameter thresholds, a
recommendation derived from them, and a Bedrock Converse assessment validated against a JSON schema
that only admits citations of the claim's real evidence.
"""
