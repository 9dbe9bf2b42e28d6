"""Shopping cashback: merchant clicks, affiliate conversions by signed postback or partner report."""
