# Perl integration tests, run by the TAP driver with perl. They start the
# real binary (WM_BINARY) on loopback ports; t/lib/ holds the harness.
# Keep the list sorted; a test not listed here does not run.
PERL_TESTS = \
	t/cmdline.t \
	t/config_errors.t \
	t/http_access.t \
	t/http_access_log.t \
	t/http_auth_basic.t \
	t/http_autoindex.t \
	t/http_charset.t \
	t/http_compat_directives.t \
	t/http_compress.t \
	t/http_headers.t \
	t/http_health.t \
	t/http_health_ssl.t \
	t/http_http2.t \
	t/http_keepalive.t \
	t/http_limit_rate.t \
	t/http_lingering.t \
	t/http_msie.t \
	t/http_listen_wildcard.t \
	t/http_locations.t \
	t/http_map.t \
	t/http_malformed.t \
	t/http_nginx_compat.t \
	t/http_proxy.t \
	t/http_proxy_body.t \
	t/http_proxy_compress.t \
	t/http_proxy_keepalive.t \
	t/http_proxy_next.t \
	t/http_proxy_realip.t \
	t/http_proxy_rewrite.t \
	t/http_proxy_ssl.t \
	t/http_proxy_ws.t \
	t/http_realip.t \
	t/http_rewrite.t \
	t/http_root_vars.t \
	t/http_small_directives.t \
	t/http_sockets.t \
	t/http_ssl.t \
	t/http_ssl_plain.t \
	t/http_ssl_stapling.t \
	t/http_static.t \
	t/http_static_cache.t \
	t/http_symlinks.t \
	t/http_tls_template.t \
	t/http_try_files.t \
	t/man.t \
	t/process.t \
	t/reload.t \
	t/signals.t \
	t/stream_access.t \
	t/stream_access_log.t \
	t/stream_bind.t \
	t/stream_half_close.t \
	t/stream_health.t \
	t/stream_limit_conn.t \
	t/stream_map.t \
	t/stream_proxy_pass_var.t \
	t/stream_proxy_protocol.t \
	t/stream_proxy_protocol_out.t \
	t/stream_rates.t \
	t/stream_relay.t \
	t/stream_relay_modes.t \
	t/stream_reload.t \
	t/stream_ssl.t \
	t/stream_ssl_preread.t \
	t/stream_ssl_relay_opts.t \
	t/stream_termination.t \
	t/stream_udp.t \
	t/stream_udp_workers.t \
	t/stream_upstream.t \
	t/upstream_resolve.t \
	t/worker_cpu_affinity.t \
	t/yaml.t
TESTS += $(PERL_TESTS)
EXTRA_DIST += t/lib $(PERL_TESTS)
