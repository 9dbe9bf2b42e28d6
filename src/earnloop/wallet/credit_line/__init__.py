"""The revolving credit line (issue 17): draw at a partner merchant, statements, repayment, overdue → debt."""
