"""The paper matching engine: orders and brackets/OCA, matching along the replay's price path,
the account ledger, margin and IB commissions. Knows nothing of the TWS protocol."""
