#!/usr/bin/perl
# `listen ... http2` and `http2 on|off`, as nginx configurations carry
# them: wmproxy has no HTTP/2, so they load with a warning that says so
# (at -t and at start) and the clients get HTTP/1.1: curl --http2 over TLS
# (ALPN chooses no protocol) and in plain HTTP (its Upgrade: h2c is not
# taken) gets an HTTP/1.1 200; the HTTP/2 connection preface of a client
# with prior knowledge gets a 505 and the server goes on serving; a value
# other than on or off is a -t error.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 60);
my $P = $t->prefix;
my ($plain, $tls) = ($t->port, $t->port);

plan skip_all => 'curl or openssl missing'
  unless grep({ -x "$_/curl" } split /:/, $ENV{PATH})
  && grep({ -x "$_/openssl" } split /:/, $ENV{PATH});

mkdir "$P/c";
system("timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -days 2"
      . " -subj /CN=localhost -keyout $P/c/key.pem -out $P/c/cert.pem"
      . " 2>/dev/null") == 0
  or BAIL_OUT('openssl req failed');

my $conf = $t->write_conf(<<"EOF");
events { }
http {
    server {
        listen 127.0.0.1:$plain http2;
        location / { return 200 "plain\\n"; }
    }
    server {
        listen 127.0.0.1:$tls ssl http2;
        http2 on;
        ssl_certificate $P/c/cert.pem;
        ssl_certificate_key $P/c/key.pem;
        location / { return 200 "tls\\n"; }
    }
}
EOF

my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
is($r->{code}, 0, '-t accepts listen ... http2 and http2 on');
like($r->{stderr}, qr/\[warn\] .*the "http2" parameter of "listen" is ignored: wmproxy has no HTTP\/2 and serves HTTP\/1\.1, in \Q$conf\E:7$/m,
    'and warns about the listen parameter, with its line');
like($r->{stderr}, qr/\[warn\] .*"http2 on" is ignored: wmproxy has no HTTP\/2 and serves HTTP\/1\.1, in \Q$conf\E:12$/m,
    'and about the directive');

$t->start or do { $t->done; exit };
like($t->start_output->{stderr}, qr/"http2 on" is ignored/,
    'and again at start');

sub curl {
    my @args = @_;
    my $out = `timeout 20 curl -sk -w ' %{http_version} %{http_code}' @args 2>&1`;
    return $out;
}

is(curl('--http2', "https://127.0.0.1:$tls/"), "tls\n 1.1 200",
    'curl --http2 over TLS: HTTP/1.1 200');
is(curl('--http2', "http://127.0.0.1:$plain/"), "plain\n 1.1 200",
    'curl --http2 in plain HTTP (Upgrade: h2c): HTTP/1.1 200');

my $c = WmHttpClient->new($plain);
$c->send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
my $resp = $c->read_response;
is($resp->{status}, 505, 'the HTTP/2 connection preface: 505');
ok($c->wait_eof, 'and the connection is closed');
is(curl("http://127.0.0.1:$plain/"), "plain\n 1.1 200", 'still serving');

$t->conf_rejected(<<"EOF", 6, qr/"http2" directive has invalid value "yes", it must be "on" or "off"/, 'http2 yes');
events { }
http { server { listen 127.0.0.1:$plain;
    http2 yes; } }
EOF

$t->done;
