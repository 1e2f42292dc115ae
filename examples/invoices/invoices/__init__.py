"""Hand-written code of the invoices example (effects run after actions commit)."""
