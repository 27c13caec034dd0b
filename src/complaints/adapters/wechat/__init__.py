"""WeChat adapters: the message XML, its signing and encryption, and the official-account API over HTTP."""
