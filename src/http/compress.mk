# src/http: the compress modules (sources, unit tests).
