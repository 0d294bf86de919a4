"""Storage ports (small protocols) and the backends behind them; services import only the ports."""
