#!/usr/bin/perl
# ssl_preread in a stream server: the ClientHello's SNI, ALPN list and
# version become $ssl_preread_server_name, $ssl_preread_alpn_protocols and
# $ssl_preread_protocol (hellos captured from openssl s_client, one split
# over three records and sent in pieces), nothing of the hello is consumed
# (a real TLS handshake through the proxy to openssl s_server completes),
# bytes that are not TLS and a silent client (preread_timeout) leave the
# variables empty and the session goes on, a malformed hello closes the
# connection with a log line, it works after a PROXY protocol header, and
# -t refuses a preread_buffer_size too small.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use WmTest;

my $t = WmTest->new(timeout => 90);
my $P = $t->prefix;
my ($p_ret, $p_pp, $p_tls, $p_srv) = ($t->port, $t->port, $t->port, $t->port);
my $corpus = "$FindBin::Bin/fuzz/corpus/tls_hello";

sub hello {
    my $name = shift;
    open my $f, '<:raw', "$corpus/$name" or die "$corpus/$name: $!";
    local $/;
    return scalar <$f>;
}

my $vars = 'sni=$ssl_preread_server_name alpn=$ssl_preread_alpn_protocols '
  . 'proto=$ssl_preread_protocol';
$t->write_conf(<<"EOF");
events { }
stream {
    preread_timeout 1s;
    server {
        listen 127.0.0.1:$p_ret;
        ssl_preread on;
        return "$vars\\n";
    }
    server {
        listen 127.0.0.1:$p_pp proxy_protocol;
        ssl_preread on;
        return "pp=\$proxy_protocol_addr $vars\\n";
    }
    server {
        listen 127.0.0.1:$p_tls;
        ssl_preread on;
        proxy_pass 127.0.0.1:$p_srv;
    }
}
EOF
$t->start(workers => 1, ports => [$p_ret, $p_pp, $p_tls])
  or BAIL_OUT('no start');

# exchange(PORT, BYTES or [PIECES]): what the server sent until it closed
sub exchange {
    my ($port, $send, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => 5) or return undef;
    for my $piece (ref $send ? @$send : ($send)) {
        syswrite($s, $piece);
        sleep($o{pause} // 0.05);
    }
    my $got = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(5)) {
        my $n = sysread($s, my $b, 65536);
        last unless $n;
        $got .= $b;
    }
    return $got;
}

is(exchange($p_ret, hello('sni-alpn-tls13')),
    "sni=www.example.com alpn=h2,http/1.1 proto=TLSv1.3\n",
    'SNI, ALPN and TLSv1.3 from an openssl hello');
is(exchange($p_ret, hello('tls12-only')),
    "sni=api.example.org alpn= proto=TLSv1.2\n", 'a TLS 1.2 hello');
is(exchange($p_ret, hello('no-sni')), "sni= alpn= proto=TLSv1.3\n",
    'a hello without SNI');
is(exchange($p_ret, hello('alpn-only')), "sni= alpn=acme-tls/1 proto=TLSv1.3\n",
    'ALPN without SNI');

my $frag = hello('fragmented');
is(exchange($p_ret, [ substr($frag, 0, 4), substr($frag, 4, 60),
            substr($frag, 64) ], pause => 0.2),
    "sni=www.example.com alpn=h2,http/1.1 proto=TLSv1.3\n",
    'a hello over three records, sent in three pieces');

is(exchange($p_ret, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    "sni= alpn= proto=\n", 'not TLS: empty variables, the session goes on');

my $t0 = time;
is(exchange($p_ret, ''), "sni= alpn= proto=\n",
    'a silent client: after preread_timeout, empty variables');
cmp_ok(time - $t0, '>=', 0.9, 'the silent client waited for preread_timeout');

my $trunc = hello('truncated');
is(exchange($p_ret, $trunc), "sni= alpn= proto=\n",
    'half a hello, then silence: empty variables after the timeout');

my $off = $t->log_size;
is(exchange($p_ret, hello('bad-session-id')), '',
    'a malformed hello: closed without an answer');
ok($t->wait_log(qr/\[info\] .*ssl_preread: invalid ClientHello: bad session id length/,
        from => $off), 'a malformed hello is logged');
is(exchange($p_ret, hello('server-hello')), '',
    'a ServerHello sent by a client: closed');

is(exchange($p_pp, "PROXY TCP4 192.0.2.7 192.0.2.8 4000 443\r\n"
            . hello('sni-alpn-tls13')),
    "pp=192.0.2.7 sni=www.example.com alpn=h2,http/1.1 proto=TLSv1.3\n",
    'after a PROXY protocol header');

# A real handshake through the proxy: the hello reaches the TLS server
# whole. openssl s_server -www answers GET with a status page.
SKIP: {
    my $cert = "$P/cert.pem";
    my $key  = "$P/key.pem";
    system("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=preread.test "
          . "-days 1 -keyout '$key' -out '$cert' >/dev/null 2>&1") == 0
      or skip('openssl cannot make a certificate', 3);
    my $srv = fork // die;
    if (!$srv) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec 'openssl', 's_server', '-accept', "127.0.0.1:$p_srv", '-cert',
          $cert, '-key', $key, '-www', '-naccept', '1';
        exit 1;
    }
    # listening: a LISTEN (0A) line for the port in /proc/net/tcp (a
    # probe connection would use up s_server's one accept)
    my $hex = sprintf ':%04X ', $p_srv;
    my $up  = 0;
    for (1 .. 200) {
        open my $fh, '<', '/proc/net/tcp' or last;
        $up = grep { index($_, $hex) > 0 && / 0A / } <$fh>;
        last if $up;
        sleep 0.05;
    }
    ok($up, 'openssl s_server listens');
    $off = $t->log_size;
    my $out = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 openssl s_client -quiet -connect 127.0.0.1:$p_tls -servername tls.example.net 2>/dev/null`;
    like($out, qr{^HTTP/1\.0 200 ok}m,
        'openssl s_client through ssl_preread: the handshake completes');
    ok($t->wait_log(qr/ssl_preread: server name "tls\.example\.net", TLSv1\.3/,
            from => $off), 'the SNI of the real handshake is logged (debug)');
    kill 'KILL', $srv;
    waitpid($srv, 0);
}

is(exchange($p_ret, hello('tls13-only')), "sni=a.b alpn= proto=TLSv1.3\n",
    'still serving after the bad hellos');

for my $bad ('preread_buffer_size 10;') {
    $t->write_file('bad.conf', "events { } stream { $bad server { listen "
          . "127.0.0.1:1; return x; } }\n");
    my $r = $t->run('-t', '-c', "$P/bad.conf");
    isnt($r->{code}, 0, "-t fails: $bad");
    like($r->{stderr}, qr/preread_buffer_size/, "-t says why: $bad");
}

$t->done;
