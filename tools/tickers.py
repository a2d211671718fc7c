"""The tickers the simulated quote source knows: well-known listings, so that a made-up symbol
gets a clear "unknown ticker" error instead of a made-up price."""

from __future__ import annotations

from typing import Final

__all__ = ["KNOWN_TICKERS", "is_known_ticker"]

KNOWN_TICKERS: Final = frozenset(
    """
    AAPL MSFT GOOG GOOGL AMZN META NVDA TSLA BRK-A BRK-B BRK.A BRK.B JPM V MA UNH XOM JNJ PG HD
    CVX LLY ABBV MRK PEP KO AVGO COST WMT MCD CSCO ACN ABT TMO DHR NKE ADBE CRM NFLX AMD INTC
    QCOM TXN ORCL IBM PYPL SBUX DIS T VZ CMCSA PFE BAC WFC C GS MS AXP BLK SCHW INTU AMAT ADI
    MU LRCX KLAC SNPS CDNS PANW NOW UBER ABNB SHOP SQ XYZ PLTR SNOW CRWD ZM SPOT BA CAT DE GE
    HON MMM UPS FDX LMT RTX NOC GD F GM RIVN LCID NIO TM SONY SAP ASML TSM BABA JD BIDU NVO AZN
    SHEL BP TTE HSBC UL RY TD SPY QQQ DIA IWM VOO VTI GLD SLV COIN HOOD RBLX EA TTWO DOCU ROKU
    PINS SNAP LYFT DASH ETSY EBAY BKNG MAR HLT CMG YUM LULU TGT LOW KR BBY GME AMC ARM SMCI
    DELL HPQ HPE NTES SE MELI NU ISRG GILD AMGN BMY CVS CI HUM MDT SYK BSX ZTS REGN VRTX MO PM
    BTI NEE DUK SO D AEP EXC LIN APD SHW ECL NEM FCX DOW DD PLD AMT CCI EQIX SPG O WELL PSA
    """.split()
)


def is_known_ticker(symbol: str) -> bool:
    """True for a symbol (already normalised to upper case) the simulated source quotes."""
    return symbol in KNOWN_TICKERS
