"""Services other than sending: printing, forms (validated writes), CSV export."""
