# src/http: the log modules (sources, unit tests).
