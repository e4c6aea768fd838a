# src/http: the access modules (sources, unit tests).
