"""The earn paths' shared layer: what tracking (games), affiliate (shopping) and einvoice (receipts)
do alike once a reward is priced by the catalog — pay it (`bonuses.py`: the campaign bonuses, each
counted against the campaign and credited as pending cashback through the wallet). The catalog prices
and reserves budget; the earn path that earns pays."""
