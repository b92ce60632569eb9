"""KYR Bot: the answer engine (no Telegram imports) and a thin Telegram adapter on top of it."""
