#!/usr/bin/perl
# The TLS front end that nginx users copy from the usual generators (a
# redirect from port 80, then TLS with session cache, no tickets, the
# protocols and ciphers of an "intermediate" profile, dhparam, HSTS,
# OCSP stapling with its verification, trusted certificate, resolver,
# and http2) loads unchanged: -t succeeds with only the warnings that
# say what wmproxy does instead (no HTTP/2; no responder URL in this
# self-signed certificate), and the server answers over TLS with the
# header and the redirect.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;

plan skip_all => 'curl or openssl missing'
  unless grep({ -x "$_/curl" } split /:/, $ENV{PATH})
  && grep({ -x "$_/openssl" } split /:/, $ENV{PATH});

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($http, $https) = ($t->port, $t->port);

mkdir "$P/c";
system("timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -days 2"
      . " -subj /CN=localhost -keyout $P/c/key.pem -out $P/c/cert.pem"
      . " 2>/dev/null") == 0 or BAIL_OUT('openssl req failed');
system("timeout 60 openssl dhparam -out $P/c/dh.pem 1024 2>/dev/null") == 0
  or BAIL_OUT('openssl dhparam failed');
$t->write_file('html/index.html', "hello\n");

my $ciphers = join ':', qw(ECDHE-ECDSA-AES128-GCM-SHA256
  ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384
  ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305
  ECDHE-RSA-CHACHA20-POLY1305 DHE-RSA-AES128-GCM-SHA256
  DHE-RSA-AES256-GCM-SHA384);

my $conf = $t->write_conf(<<"END");
events { }
http {
    server {
        listen 127.0.0.1:$http default_server;
        location / { return 301 https://\$host\$request_uri; }
    }
    server {
        listen 127.0.0.1:$https ssl http2;
        http2 on;
        root $P/html;
        ssl_certificate $P/c/cert.pem;
        ssl_certificate_key $P/c/key.pem;
        ssl_session_timeout 1d;
        ssl_session_cache shared:MozSSL:10m;
        ssl_session_tickets off;
        ssl_dhparam $P/c/dh.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers $ciphers;
        ssl_prefer_server_ciphers off;
        add_header Strict-Transport-Security "max-age=63072000" always;
        ssl_stapling on;
        ssl_stapling_verify on;
        ssl_trusted_certificate $P/c/cert.pem;
        resolver 127.0.0.1;
    }
}
END

my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
is($r->{code}, 0, '-t accepts the template') or diag($r->{stderr});
my @warn = $r->{stderr} =~ /\[warn\] \d+#0: (.*)/g;
is(scalar(grep { /"http2" parameter of "listen" is ignored/ } @warn), 1,
    'a warning for listen ... http2');
is(scalar(grep { /"http2 on" is ignored/ } @warn), 1,
    'a warning for http2 on');
is(scalar(grep { /"ssl_stapling" ignored, no OCSP responder URL/ } @warn), 1,
    'a warning for stapling without a responder URL');
is(scalar @warn, 3, 'and no other warning') or diag(join "\n", @warn);

$t->start or do { $t->done; exit };
my $out = `timeout 20 curl -sk -D - https://127.0.0.1:$https/ 2>&1`;
like($out, qr{^HTTP/1\.1 200 }, 'TLS: 200');
like($out, qr{^Strict-Transport-Security: max-age=63072000\r?$}m,
    'with the HSTS header');
like($out, qr{\r?\n\r?\nhello\n\z}, 'and the page');
$out = `timeout 20 curl -s -D - -H 'Host: example.test' http://127.0.0.1:$http/a?b 2>&1`;
like($out, qr{^HTTP/1\.1 301 }, 'port 80: 301');
like($out, qr{^Location: https://example\.test/a\?b\r?$}m, 'to https');

$t->done;
