# src/http: the rewrite modules (sources, unit tests).
