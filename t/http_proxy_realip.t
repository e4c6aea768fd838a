#!/usr/bin/perl
# realip in front of the HTTP proxy: the client address that the upstream
# sees in X-Real-IP ($remote_addr) and X-Forwarded-For
# ($proxy_add_x_forwarded_for) when the address comes from X-Forwarded-For
# (recursive off and on, trusted and untrusted senders) and from the PROXY
# protocol header of a balancer in front (v1, v2, UNKNOWN, untrusted, and a
# broken header that never reaches the upstream).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use WmTest;
use WmHttpClient;
use WmMockHttp;

my $t = WmTest->new(timeout => 120);
my ($p1, $p2, $p3, $p4) = map { $t->port } 1 .. 4;
my $up = WmMockHttp->new;
my $pu = $up->port;
my $PX = <<"EOF";
            proxy_pass http://127.0.0.1:$pu;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
EOF

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    server {
        listen 127.0.0.1:$p1;
        set_real_ip_from 127.0.0.1;
        set_real_ip_from 10.0.0.0/8;
        real_ip_header X-Forwarded-For;
        location / {
$PX        }
    }
    server {
        listen 127.0.0.1:$p2 proxy_protocol;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / {
$PX        }
    }
    server {
        listen 127.0.0.1:$p3;
        set_real_ip_from 127.0.0.1;
        set_real_ip_from 10.0.0.0/8;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / {
$PX        }
    }
    server {
        listen 127.0.0.1:$p4;
        location / {
$PX        }
    }
}
EOF
$t->start(workers => 1, ports => [$p1, $p2, $p3, $p4]) or BAIL_OUT('no start');

# One request from a source address through the proxy: (the upstream's
# X-Real-IP, its X-Forwarded-For, the client's status).
sub through {
    my ($port, $headers, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        LocalAddr => $o{from} // '127.0.0.1', Timeout => 5)
      or die "connect: $!";
    my $c = WmHttpClient->from_socket($s);
    $c->send(($o{pp} // '') . "GET " . ($o{uri} // '/')
          . " HTTP/1.1\r\nHost: x\r\n$headers"
          . "Connection: close\r\n\r\n");
    my $rq = $up->accept_request(timeout => 10);
    return ('no request', '', '') if $rq->{error};
    $up->reply($rq, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    my $r = $c->read_response;
    my @xff = map { $_->[1] } grep { lc $_->[0] eq 'x-forwarded-for' }
      @{ $rq->{headers} };
    return ($rq->{h}{'x-real-ip'} // '<none>',
        @xff == 1 ? $xff[0] : scalar(@xff) . " XFF headers: @xff",
        ($r->{status} // 'none') . ' ' . ($r->{body} // ''));
}

# ---- X-Forwarded-For ---------------------------------------------------------
is_deeply([through($p1, "X-Forwarded-For: 203.0.113.7\r\n")],
    ['203.0.113.7', '203.0.113.7, 203.0.113.7', '200 ok'],
    'XFF from a trusted client: X-Real-IP is the real address, '
      . 'and it is appended to the chain');
is_deeply([through($p1, "X-Forwarded-For: 198.51.100.1, 10.0.0.2\r\n")],
    ['10.0.0.2', '198.51.100.1, 10.0.0.2, 10.0.0.2', '200 ok'],
    'recursive off: the rightmost hop, even a trusted one');
is_deeply([through($p3, "X-Forwarded-For: 198.51.100.1, 10.0.0.2\r\n")],
    ['198.51.100.1', '198.51.100.1, 10.0.0.2, 198.51.100.1', '200 ok'],
    'recursive on: trusted hops skipped');
is_deeply([through($p3, "X-Forwarded-For: 198.51.100.1\r\n"
      . "X-Forwarded-For: 192.0.2.9, 10.0.0.3\r\n")],
    ['192.0.2.9', '198.51.100.1, 192.0.2.9, 10.0.0.3, 192.0.2.9', '200 ok'],
    'several XFF headers: joined into one for the upstream');
is_deeply([through($p1, "X-Forwarded-For: 203.0.113.7\r\n",
    from => '127.0.0.2')],
    ['127.0.0.2', '203.0.113.7, 127.0.0.2', '200 ok'],
    'an untrusted client: its own address');
is_deeply([through($p1, "X-Forwarded-For: junk\r\n")],
    ['127.0.0.1', 'junk, 127.0.0.1', '200 ok'],
    'XFF that is not an address: the connection address');
is_deeply([through($p1, "")], ['127.0.0.1', '127.0.0.1', '200 ok'],
    'no XFF: the connection address alone');
is_deeply([through($p4, "X-Forwarded-For: 203.0.113.7\r\n")],
    ['127.0.0.1', '203.0.113.7, 127.0.0.1', '200 ok'],
    'a server without realip: the chain grows by the connection address');

# ---- PROXY protocol ----------------------------------------------------------
my $v1 = "PROXY TCP4 192.0.2.77 127.0.0.1 5555 $p2\r\n";
is_deeply([through($p2, "", pp => $v1)],
    ['192.0.2.77', '192.0.2.77', '200 ok'], 'PROXY v1: the header\'s address');
is_deeply([through($p2, "X-Forwarded-For: 198.51.100.4\r\n", pp => $v1)],
    ['192.0.2.77', '198.51.100.4, 192.0.2.77', '200 ok'],
    'PROXY v1 with an XFF from the client: appended after it');
is_deeply([through($p2, "",
    pp => "PROXY TCP6 2001:db8::77 ::1 6666 $p2\r\n")],
    ['2001:db8::77', '2001:db8::77', '200 ok'], 'PROXY v1 TCP6');
my $v2 = "\r\n\r\n\0\r\nQUIT\n" . pack('CCn', 0x21, 0x11, 12)
  . pack('C4C4nn', 192, 0, 2, 88, 127, 0, 0, 1, 7777, $p2);
is_deeply([through($p2, "", pp => $v2)],
    ['192.0.2.88', '192.0.2.88', '200 ok'], 'PROXY v2');
is_deeply([through($p2, "", pp => "PROXY UNKNOWN\r\n")],
    ['127.0.0.1', '127.0.0.1', '200 ok'], 'PROXY UNKNOWN: the connection');
is_deeply([through($p2, "", pp => $v1, from => '127.0.0.2')],
    ['127.0.0.2', '127.0.0.2', '200 ok'],
    'PROXY from an untrusted balancer: the connection address');

# A broken PROXY header: closed and logged, the upstream never hears of it.
{
    my $off = $t->log_size;
    my $c = WmHttpClient->new($p2) or die;
    $c->send("PROXY TCP4 300.1.1.1 127.0.0.1 1 2\r\n"
          . "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    my $r = $c->read_response;
    ok(!defined $r->{status}, 'broken PROXY header: no response');
    ok($t->wait_log(qr/\[error\].*PROXY/i, from => $off),
        '  error.log says why');
    my $sel = IO::Select->new($up->listener);
    ok(!$sel->can_read(0.5), '  nothing reached the upstream');
    is_deeply([through($p2, "", pp => $v1)],
        ['192.0.2.77', '192.0.2.77', '200 ok'], '  still serving');
}

$t->done;
