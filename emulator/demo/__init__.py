"""The default offline model: the stock demo (tickers, tool outputs, the demo assistant)."""
