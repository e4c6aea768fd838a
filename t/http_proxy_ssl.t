#!/usr/bin/perl
# proxy_pass https:// (wmproxy.conf(5), HTTP PROXY SSL MODULE): one
# wmproxy is both the front (plain HTTP, proxy_pass https://) and its TLS
# backends (listen ... ssl, certificates made here). Checked: verification
# against the right CA (exact body), the wrong CA and the wrong name (502
# and nginx's log line), the SNI the backend saw, a client certificate
# the backend requires, session reuse and keepalive reuse seen by the
# backend ($ssl_session_reused, $connection), 20 MB through TLS with
# sha256, and the -t errors of bad settings.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use POSIX ();
use Test::More;
use WmTest;
use WmHttpClient;

for my $tool ('openssl', 'timeout') {
    next if grep { -x "$_/$tool" } split /:/, $ENV{PATH} // '';
    plan skip_all => "$tool is not installed";
}

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my $C = "$P/certs";
mkdir $C or die "mkdir $C: $!";

sub openssl {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', "$C/openssl.err";
        { no warnings 'exec'; exec 'timeout', '-s', 'KILL', 60, 'openssl', @_; }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    die "openssl @_ failed" if $?;
}

my $serial = 9100;
sub ca {
    my ($name, $cn) = @_;
    openssl('req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes',
        '-keyout', "$C/$name.key", '-out', "$C/$name.crt", '-days', 2,
        '-subj', "/CN=$cn", '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}
sub cert {
    my ($name, $cn, %o) = @_;
    openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout',
        "$C/$name.key", '-out', "$C/$name.csr", '-subj', "/CN=$cn");
    open my $ext, '>', "$C/$name.ext" or die "$name.ext: $!";
    print $ext $o{client}
      ? "extendedKeyUsage=clientAuth\n"
      : "subjectAltName=DNS:$cn\nextendedKeyUsage=serverAuth\n";
    close $ext;
    openssl('x509', '-req', '-in', "$C/$name.csr", '-CA', "$C/$o{by}.crt",
        '-CAkey', "$C/$o{by}.key", '-set_serial', $serial++, '-days', 2,
        '-out', "$C/$name.crt", '-extfile', "$C/$name.ext");
}

ca('ca', 'proxy test CA');
ca('ca2', 'unrelated CA');
cert('backend', 'backend.test', by => 'ca');
cert('proxy', 'proxy client', by => 'ca', client => 1);

# ---- -t errors ----------------------------------------------------------------

$t->conf_rejected(<<"EOF", 8, qr/no "proxy_ssl_trusted_certificate" for "proxy_ssl_verify"/, 'verify without a CA');
events { }
http {
    server {
        listen 127.0.0.1:1;
        location / { proxy_ssl_verify on; proxy_pass https://127.0.0.1:2; }
    }
}
EOF
$t->conf_rejected(<<"EOF", 10, qr/cannot load certificate "\Q$C\E\/none\.crt"/, 'a missing client certificate');
events { }
http {
    server {
        listen 127.0.0.1:1;
        location / {
            proxy_pass https://127.0.0.1:2;
            proxy_ssl_certificate $C/none.crt;
            proxy_ssl_certificate_key $C/proxy.key;
        }
    }
}
EOF
$t->conf_rejected(<<"EOF", 6, qr/invalid value "TLSv9"/, 'a bad protocol');
events { }
http {
    proxy_ssl_protocols TLSv9;
}
EOF
$t->conf_rejected(<<"EOF", 6, qr/invalid value "maybe"/, 'a bad flag');
events { }
http {
    proxy_ssl_verify maybe;
}
EOF

# ---- the front and its backends ---------------------------------------------

my ($port, $pb, $pc) = ($t->port, $t->port, $t->port);
$t->write_file('html/files/big', my $big = join '', map { sprintf "%09d\n", $_ } 1 .. 2_000_000);
$t->write_file('html/files/small', "small file\n");

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    log_format be '\$server_port \$request_uri c=\$connection r=\$ssl_session_reused sni=\$ssl_server_name';
    upstream kag { server 127.0.0.1:$pb; keepalive 2; }

    server {
        listen 127.0.0.1:$pb ssl;
        ssl_certificate $C/backend.crt;
        ssl_certificate_key $C/backend.key;
        access_log logs/backend.log be;
        root $P/html;
        location = /sni { return 200 "sni=\$ssl_server_name\\n"; }
    }
    server {
        listen 127.0.0.1:$pc ssl;
        ssl_certificate $C/backend.crt;
        ssl_certificate_key $C/backend.key;
        ssl_verify_client on;
        ssl_client_certificate $C/ca.crt;
        location / { return 200 "client=\$ssl_client_verify\\n"; }
    }
    server {
        listen 127.0.0.1:$port;
        proxy_ssl_trusted_certificate $C/ca.crt;
        proxy_ssl_verify on;
        proxy_ssl_name backend.test;
        proxy_ssl_server_name on;
        location /ok/ { proxy_pass https://127.0.0.1:$pb/; }
        location /wrongca/ {
            proxy_pass https://127.0.0.1:$pb/;
            proxy_ssl_trusted_certificate $C/ca2.crt;
        }
        location /wrongname/ {
            proxy_pass https://127.0.0.1:$pb/;
            proxy_ssl_name other.test;
        }
        location /nosni/ {
            proxy_pass https://127.0.0.1:$pb/;
            proxy_ssl_server_name off;
        }
        location /ka/ {
            proxy_pass https://kag/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /plainka/ {
            proxy_pass http://kag/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /client/ {
            proxy_pass https://127.0.0.1:$pc/;
            proxy_ssl_certificate $C/proxy.crt;
            proxy_ssl_certificate_key $C/proxy.key;
        }
        location /noclient/ { proxy_pass https://127.0.0.1:$pc/; }
    }
}
EOF

$t->start(workers => 1, ports => [$port, $pb, $pc]) or do { $t->done; exit };

sub get {
    my ($path, $c) = @_;
    $c //= WmHttpClient->new($port) or die "connect: $!";
    $c->send("GET $path HTTP/1.1\r\nHost: front\r\n\r\n");
    return $c->read_response(timeout => 60);
}

my $r = get('/ok/files/small');
is($r->{status}, 200, 'verified upstream: 200');
is($r->{body}, "small file\n", 'verified upstream: exact body');

$r = get('/ok/sni');
is($r->{body}, "sni=backend.test\n", 'the backend saw proxy_ssl_name as SNI');
$r = get('/nosni/sni');
is($r->{body}, "sni=\n", 'proxy_ssl_server_name off: no SNI');

my $mark = $t->log_size;
$r = get('/wrongca/files/small');
is($r->{status}, 502, 'wrong CA: 502');
like($t->log_since($mark), qr/\[error\] .*upstream SSL certificate verify error: \(21:unable to verify the first certificate\) while SSL handshaking to upstream, client: 127\.0\.0\.1, .*upstream: "https:\/\/127\.0\.0\.1:$pb\/files\/small"/, 'wrong CA: the log line');

$mark = $t->log_size;
$r = get('/wrongname/files/small');
is($r->{status}, 502, 'wrong name: 502');
like($t->log_since($mark), qr/upstream SSL certificate verify error: \(62:hostname mismatch\) while SSL handshaking to upstream/, 'wrong name: the log line');

$r = get('/client/x');
is($r->{status}, 200, 'client certificate: 200');
is($r->{body}, "client=SUCCESS\n", 'the backend verified the client certificate');
$r = get('/noclient/x');
isnt($r->{status}, 200, "no client certificate: refused ($r->{status})");

# Session reuse: without keepalive, the second handshake resumes.
$r = get('/ok/files/small');
$r = get('/ok/files/small');
is($r->{status}, 200, 'another request');

# Keepalive over TLS: three requests, one backend connection.
for (1 .. 3) {
    $r = get('/ka/files/small');
    is($r->{body}, "small file\n", "keepalive request $_");
}
# The plain location of the same group must not take the TLS connection:
# plain HTTP on a TLS port is refused by the backend.
$r = get('/plainka/files/small');
is($r->{status}, 400, 'plain HTTP to the TLS port: not a pooled TLS connection');

# 20 MB through TLS.
$r = get('/ok/files/big');
is($r->{status}, 200, '20 MB: 200');
is(length($r->{body}), length($big), '20 MB: length');
is(sha256_hex($r->{body}), sha256_hex($big), '20 MB: sha256');

$t->wait_until(sub { ($t->log_text('logs/backend.log') // '') =~ /files\/big/ }, 10);
my @be = split /\n/, $t->log_text('logs/backend.log') // '';
my @ok = grep { m{^$pb /files/small c=\d+ r=[r.] sni=backend\.test$} } @be;
ok(@ok >= 5, 'backend log has the proxied requests') or diag(join "\n", @be);
ok((grep { / r=r / } @ok), 'a new connection resumed the session')
  or diag(join "\n", @be);
my %conns;
$conns{$_}++ for map { /c=(\d+)/ ? $1 : () } @ok;
ok((grep { $_ >= 2 } values %conns), 'keepalive: requests shared a TLS connection')
  or diag(join "\n", @be);
like((grep { m{/files/small c=\d+ r=- sni=-$} } @be)[0] // '', qr/r=-/,
    'the plain location opened its own (plain) connection');

$t->expect_errors(qr/upstream SSL certificate verify error/, qr/client sent no required SSL certificate|SSL/);
$t->done;
