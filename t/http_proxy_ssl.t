#!/usr/bin/perl
# proxy_pass https:// (wmproxy.conf(5), HTTP PROXY SSL MODULE): one
# wmproxy is both the front (plain HTTP, proxy_pass https://) and its TLS
# backends (listen ... ssl, certificates made here). Checked: verification
# against the right CA (exact body), the wrong CA and the wrong name (502
# and nginx's log line), the SNI the backend saw, a client certificate
# the backend requires, session reuse and keepalive reuse seen by the
# backend ($ssl_session_reused, $connection), 20 MB through TLS with
# sha256, and the -t errors of bad settings. A forked mock backend that
# speaks plain HTTP or TLS on the same port (it looks at the first byte)
# says, per request, which scheme and which connection carried it: 20 MB
# uploads (Content-Length and chunked) and downloads with sha256 on both
# sides, and the same address as http:// and https:// upstream never
# sharing a pooled connection. proxy_pass https://$var and a URL all in a
# variable, proxy_ssl_name with variables, proxy_ssl_verify off, a chain
# through an intermediate CA and proxy_ssl_verify_depth.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use POSIX ();
use Socket qw(MSG_PEEK);
use Test::More;
use WmTest;
use WmHttpClient;
use WmMockHttp;

for my $tool ('openssl', 'timeout') {
    next if grep { -x "$_/$tool" } split /:/, $ENV{PATH} // '';
    plan skip_all => "$tool is not installed";
}
plan skip_all => 'IO::Socket::SSL is not installed'
  unless eval { require IO::Socket::SSL; 1 };

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
    print $ext $o{client} ? "extendedKeyUsage=clientAuth\n"
      : $o{ca} ? "basicConstraints=critical,CA:TRUE\n"
          . "keyUsage=critical,keyCertSign,cRLSign\n"
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
# chain.test: leaf <- intermediate <- ca, the server sends leaf and
# intermediate
cert('inter', 'proxy test intermediate', by => 'ca', ca => 1);
cert('chain', 'chain.test', by => 'inter');
{
    open my $out, '>', "$C/chain-full.crt" or die "chain-full.crt: $!";
    for my $f ("$C/chain.crt", "$C/inter.crt") {
        open my $in, '<', $f or die "$f: $!";
        print $out do { local $/; <$in> };
    }
}

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

$t->conf_rejected(<<"EOF", 11, qr/no "proxy_ssl_trusted_certificate" for "proxy_ssl_verify"/, 'proxy_pass with variables has a TLS context');
events { }
http {
    proxy_ssl_verify on;
    server {
        listen 127.0.0.1:1;
        location / {
            set \$u http://127.0.0.1:2;
            proxy_pass \$u;
        }
    }
}
EOF

# ---- the mock backend ---------------------------------------------------------

# Deterministic payload: 1 MiB blocks, each stamped with its number.
my $BLOCK = join '', map { chr(($_ * 7919 + ($_ >> 3)) & 0xff) } 0 .. (1 << 20) - 1;
sub payload {
    my ($n) = @_;
    my $p = '';
    for (my $i = 0; length $p < $n; $i++) {
        $p .= pack('N', $i) . substr($BLOCK, 4);
    }
    return substr($p, 0, $n);
}

# Plain HTTP or TLS on one port, keep-alive. Each response says which
# scheme and which connection (the pid of the child serving it) carried
# the request, and its number on that connection: "tls=1 conn=PID n=K".
# POST: the body (Content-Length or chunked) is hashed and reported as
# "len=N sha=HEX"; GET /down/N: N bytes of payload(N), with its sha256 in
# X-Sha256.
my $mock = WmMockHttp->new;
my $pm = $mock->port;
$mock->serve(sub {
    my ($s) = @_;
    alarm 300;
    recv($s, my $first, 1, MSG_PEEK);
    return unless defined $first && length $first;
    my $tls = $first eq "\x16" ? 1 : 0;
    if ($tls) {
        IO::Socket::SSL->start_SSL($s, SSL_server => 1,
            SSL_cert_file => "$C/backend.crt",
            SSL_key_file => "$C/backend.key") or return;
    }
    my $buf = '';
    my $fill = sub { sysread($s, $buf, 1 << 20, length $buf) };
    my $out = sub {
        my ($d) = @_;
        for (my $o = 0; $o < length $d;) {
            my $n = syswrite($s, $d, length($d) - $o, $o) or return;
            $o += $n;
        }
    };
    # How a TLS connection ended, in mock-end.log: close_notify or eof.
    my $ended = sub {
        return unless $tls;
        my $how = Net::SSLeay::get_shutdown($s->_get_ssl_object) & 2
          ? 'close_notify' : 'eof';
        open my $fh, '>>', "$P/mock-end.log" or return;
        print $fh "$how\n";
        close $fh;
    };
    for (my $k = 1;; $k++) {
        while (index($buf, "\r\n\r\n") < 0) {
            $fill->() or do { $ended->(); return };
        }
        my $i = index($buf, "\r\n\r\n");
        my $head = substr($buf, 0, $i + 4, '');
        my ($method, $path) = $head =~ m{^(\S+) (\S+)};
        my $who = "tls=$tls conn=$$ n=$k";
        if ($method eq 'POST') {
            my $d = Digest::SHA->new(256);
            my $len = 0;
            if ($head =~ /\r\nTransfer-Encoding: chunked\r\n/i) {
                for (;;) {
                    while (index($buf, "\r\n") < 0) { $fill->() or return }
                    my $size = hex substr($buf, 0, index($buf, "\r\n") + 2, '');
                    while (length $buf < $size + 2) { $fill->() or return }
                    $d->add(substr($buf, 0, $size, ''));
                    $len += $size;
                    substr($buf, 0, 2, '');
                    last if $size == 0;
                }
                $who .= ' chunked';
            } else {
                my ($cl) = $head =~ /\r\nContent-Length: (\d+)\r\n/i;
                while (length $buf < $cl) { $fill->() or return }
                $d->add(substr($buf, 0, $cl, ''));
                $len = $cl;
            }
            $who .= " len=$len sha=" . $d->hexdigest;
        } elsif ($path =~ m{/down/(\d+)$}) {
            my $p = payload($1);
            $out->("HTTP/1.1 200 OK\r\nContent-Length: $1\r\n"
                . 'X-Sha256: ' . sha256_hex($p) . "\r\n\r\n$p");
            next;
        }
        $out->("HTTP/1.1 200 OK\r\nContent-Length: "
            . (length($who) + 1) . "\r\n\r\n$who\n");
        # /close: the connection ends after the response, without a
        # Connection: close that would keep it out of the pool
        return if $path =~ m{/close$};
    }
});

# ---- the front and its backends ---------------------------------------------

my ($port, $pb, $pc, $pd) = ($t->port, $t->port, $t->port, $t->port);
$t->write_file('html/files/big', my $big = join '', map { sprintf "%09d\n", $_ } 1 .. 2_000_000);
$t->write_file('html/files/small', "small file\n");

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    log_format be '\$server_port \$request_uri c=\$connection r=\$ssl_session_reused sni=\$ssl_server_name';
    upstream kag { server 127.0.0.1:$pb; keepalive 2; }
    upstream dual { server 127.0.0.1:$pm; keepalive 4; }

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
        listen 127.0.0.1:$pd ssl;
        ssl_certificate $C/chain-full.crt;
        ssl_certificate_key $C/chain.key;
        location / { return 200 "chain\\n"; }
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
        location /noverify/ {
            proxy_pass https://127.0.0.1:$pb/;
            proxy_ssl_verify off;
            proxy_ssl_trusted_certificate $C/ca2.crt;
            proxy_ssl_name other.test;
        }
        location /chain1/ {
            proxy_pass https://127.0.0.1:$pd/;
            proxy_ssl_name chain.test;
        }
        location /chain0/ {
            proxy_pass https://127.0.0.1:$pd/;
            proxy_ssl_name chain.test;
            proxy_ssl_verify_depth 0;
        }
        location /depth0/ {
            proxy_pass https://127.0.0.1:$pb/;
            proxy_ssl_verify_depth 0;
        }
        location /var/ {
            set \$be 127.0.0.1:$pb;
            proxy_pass https://\$be/files/small;
        }
        location /varname/ {
            set \$be 127.0.0.1:$pb;
            proxy_pass https://\$be/sni;
            proxy_ssl_name \$http_x_name;
        }
        location /varurl/ {
            set \$u https://127.0.0.1:$pb/files/small;
            proxy_pass \$u;
        }
        location /m/ {
            client_max_body_size 0;
            proxy_pass https://127.0.0.1:$pm;
            proxy_http_version 1.1;
        }
        location /mplain/ { proxy_pass http://127.0.0.1:$pm; }
        location /dual/ {
            proxy_pass https://dual;
            proxy_http_version 1.1;
        }
        location /dualplain/ {
            proxy_pass http://dual;
            proxy_http_version 1.1;
        }
        location /default80/ { proxy_pass http://127.0.0.1; }
        location /default443/ { proxy_pass https://127.0.0.1; }
    }
}
EOF

$t->start(workers => 1, ports => [$port, $pb, $pc, $pd])
  or do { $mock->stop; $t->done; exit };

sub get {
    my ($path, $c, $more) = @_;
    $c //= WmHttpClient->new($port) or die "connect: $!";
    $c->send("GET $path HTTP/1.1\r\nHost: front\r\n" . ($more // '') . "\r\n");
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

# ---- verification off, a chain, depth ------------------------------------------

$r = get('/noverify/files/small');
is($r->{status}, 200, 'proxy_ssl_verify off: the wrong CA and name pass');
is($r->{body}, "small file\n", 'proxy_ssl_verify off: exact body');
# proxy_ssl_verify_depth counts the intermediate CAs (OpenSSL's depth):
# 1, the default, lets one through; with 0 OpenSSL stops building the
# chain at the intermediate and reports its issuer unknown (20).
$r = get('/chain1/x');
is($r->{status}, 200, 'a chain through an intermediate, default depth: 200');
is($r->{body}, "chain\n", 'a chain through an intermediate: exact body');
$r = get('/depth0/files/small');
is($r->{body}, "small file\n", 'depth 0: a certificate the root signed passes');
$mark = $t->log_size;
$r = get('/chain0/x');
is($r->{status}, 502, 'depth 0: the chain through an intermediate gets 502');
like($t->log_since($mark), qr/\[error\] .*upstream SSL certificate verify error: \(20:unable to get local issuer certificate\) while SSL handshaking to upstream, client: 127\.0\.0\.1, .*upstream: "https:\/\/127\.0\.0\.1:$pd\/x"/,
    'depth 0: the log line');

# ---- variables ------------------------------------------------------------------

$r = get('/var/x');
is($r->{status}, 200, 'proxy_pass https://$be/...: 200');
is($r->{body}, "small file\n", 'proxy_pass https://$be/...: exact body');
$r = get('/varurl/x');
is($r->{body}, "small file\n", 'proxy_pass $u (https:// in the variable): exact body');
$r = get('/varname/x', undef, "X-Name: backend.test\r\n");
is($r->{body}, "sni=backend.test\n", 'proxy_ssl_name $http_x_name: SNI and verified name');
$mark = $t->log_size;
$r = get('/varname/x', undef, "X-Name: other.test\r\n");
is($r->{status}, 502, 'proxy_ssl_name $http_x_name, a wrong name: 502');
like($t->log_since($mark), qr/upstream SSL certificate verify error: \(62:hostname mismatch\) while SSL handshaking to upstream, .*request: "GET \/varname\/x HTTP\/1\.1"/,
    'a wrong name from a variable: the log line');
$r = get('/ok/files/small');
is($r->{body}, "small file\n", 'still serving after the failures');

# ---- 20 MB both ways through the mock backend --------------------------------------

my $N = 20 << 20;
my $up = payload($N);
my $upsha = sha256_hex($up);
{
    my $c = WmHttpClient->new($port) or die "connect: $!";
    $c->send("POST /m/up HTTP/1.1\r\nHost: front\r\nContent-Length: $N\r\n\r\n");
    $c->send($up);
    $r = $c->read_response(timeout => 120);
    is($r->{status}, 200, '20 MB upload (Content-Length) over TLS: 200');
    like($r->{body}, qr/^tls=1 conn=\d+ n=1 len=$N sha=$upsha\n\z/,
        '20 MB upload: the backend got every byte over TLS (sha256)');

    $c->send("POST /m/upc HTTP/1.1\r\nHost: front\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (my $o = 0; $o < $N; $o += 1 << 20) {
        $c->send(sprintf("%x\r\n", 1 << 20) . substr($up, $o, 1 << 20) . "\r\n");
    }
    $c->send("0\r\n\r\n");
    $r = $c->read_response(timeout => 120);
    like($r->{body}, qr/^tls=1 conn=\d+ n=1 chunked len=$N sha=$upsha\n\z/,
        '20 MB upload (chunked) over TLS: every byte, re-framed in chunks');

    $r = get("/m/down/$N", $c);
    is($r->{status}, 200, '20 MB download over TLS: 200');
    is($r->{h}{'x-sha256'}, $upsha, 'the backend sent the payload');
    is(length($r->{body}), $N, '20 MB download: length');
    is(sha256_hex($r->{body}), $upsha, '20 MB download: sha256 as the backend sent it');
}

# ---- one address, two schemes ---------------------------------------------------

# Implicit groups: the same host:port as https:// and http://.
like(get('/m/x')->{body}, qr/^tls=1 conn=\d+ n=1$/m, 'https://127.0.0.1:port: TLS on the backend');
like(get('/mplain/x')->{body}, qr/^tls=0 conn=\d+ n=1$/m, 'http://127.0.0.1:port: plain on the backend');

# Without keepalive the TLS connection is closed after the response, with
# a close_notify that the backend sees before the end of the stream.
unlink "$P/mock-end.log";
like(get('/m/end')->{body}, qr/^tls=1 /m, 'a TLS request without keepalive');
ok($t->wait_until(sub { -s "$P/mock-end.log" }, 10), 'the backend saw the end');
is($t->log_text("mock-end.log"), "close_notify\n",
    'the upstream connection ended with close_notify');

# One group with keepalive used by both schemes: each scheme keeps its own
# connection, as the backend sees them.
my @seen = map { get($_)->{body} // '' }
  '/dual/a', '/dualplain/a', '/dual/b', '/dualplain/b', '/dual/c';
my @who = map { /^tls=(\d) conn=(\d+) n=(\d+)$/m ? [$1, $2, $3] : [-1, -1, -1] } @seen;
is(join(' ', map { "$_->[0]/$_->[2]" } @who), '1/1 0/1 1/2 0/2 1/3',
    'each scheme reuses its own pooled connection (tls/request number)')
  or diag(join '', @seen);
is(scalar(grep { $_->[1] == $who[0][1] } @who[0, 2, 4]), 3, 'https requests: one connection');
is(scalar(grep { $_->[1] == $who[1][1] } @who[1, 3]), 2, 'http requests: one connection');
isnt($who[0][1], $who[1][1], 'the two schemes never shared a connection');

# A pooled TLS connection that the backend closes (close_notify, then
# FIN): the next request gets a new connection and its answer.
my $a = get('/dual/close')->{body} // '';
like($a, qr/^tls=1 conn=$who[0][1] n=4$/m, 'the pooled TLS connection served /close');
my $b = get('/dual/after')->{body} // '';
my ($bconn) = $b =~ /^tls=1 conn=(\d+) n=1$/m;
ok($bconn && $bconn != $who[0][1], 'after the backend closed it: a new TLS connection')
  or diag($b);
is((get('/dual/again')->{body} // '') =~ /^tls=1 conn=(\d+) n=2$/m ? $1 : 0, $bconn,
    'and that one is pooled in turn');

# Without a port, http:// and https:// to one host are two implicit groups
# (80 and 443), not one.
$mark = $t->log_size;
get('/default80/x');
get('/default443/x');
my $log = $t->log_since($mark);
like($log, qr/upstream: "http:\/\/127\.0\.0\.1:80\/default80\/x"/, 'http://127.0.0.1 goes to port 80');
like($log, qr/upstream: "https:\/\/127\.0\.0\.1:443\/default443\/x"/, 'https://127.0.0.1 goes to port 443');

$mock->stop;
$t->expect_errors(qr/upstream SSL certificate verify error/, qr/client sent no required SSL certificate|SSL/);
$t->done;
