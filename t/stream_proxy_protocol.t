#!/usr/bin/perl
# listen ... proxy_protocol in a stream server: v1 and v2 headers are read
# and removed, their addresses become $proxy_protocol_*, the payload after
# them reaches the upstream intact, and broken or missing headers close the
# connection with a log line while the server keeps serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use WmTest;

my $t = WmTest->new(timeout => 60);
my ($p1, $p2, $up) = ($t->port, $t->port, $t->port);

# An echo upstream inside the test: it sends back each byte it receives
# (a half-close would end the session: proxy_half_close is off, as nginx).
my $echo = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $up,
    Listen => 16, ReuseAddr => 1) or die "echo: $!";
my $echo_pid = fork // die;
if (!$echo_pid) {
    while (my $c = $echo->accept) {
        while (sysread($c, my $b, 65536)) { syswrite($c, $b) }
        close $c;
    }
    exit 0;
}
END { local $?; if ($echo_pid) { kill "KILL", $echo_pid; waitpid($echo_pid, 0) } }

$t->write_conf(<<"EOF");
events { }
stream {
    server {
        listen 127.0.0.1:$p1 proxy_protocol;
        return "\$proxy_protocol_addr \$proxy_protocol_port \$proxy_protocol_server_addr \$proxy_protocol_server_port \$remote_addr\\n";
    }
    server {
        listen 127.0.0.1:$p2 proxy_protocol;
        proxy_pass 127.0.0.1:$up;
    }
}
EOF
$t->start(workers => 1, ports => [$p1, $p2]) or BAIL_OUT('no start');

sub exchange {
    my ($port, $send, $want) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => 5) or return undef;
    for my $piece (ref $send ? @$send : ($send)) {
        syswrite($s, $piece);
        select(undef, undef, undef, 0.05);
    }
    my $got = '';
    my $sel = IO::Select->new($s);
    while ((!$want || length($got) < $want) && $sel->can_read(5)) {
        my $n = sysread($s, my $b, 65536);
        last unless $n;
        $got .= $b;
    }
    return $got;
}

is(exchange($p1, "PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n"),
    "192.0.2.7 40000 198.51.100.1 443 127.0.0.1\n", 'v1 TCP4 addresses');
is(exchange($p1, "PROXY TCP6 2001:db8::5 2001:db8::1 1 2\r\n"),
    "2001:db8::5 1 2001:db8::1 2 127.0.0.1\n", 'v1 TCP6 addresses');
is(exchange($p1, ["PROXY TCP4 192.0.2", ".8 198.51.100.1 1 2\r\n"]),
    "192.0.2.8 1 198.51.100.1 2 127.0.0.1\n", 'a header in two pieces');
my $v2 = "\r\n\r\n\0\r\nQUIT\n" . pack('CCn', 0x21, 0x11, 12)
    . pack('C4C4nn', 203, 0, 113, 9, 127, 0, 0, 1, 5555, 80);
is(exchange($p1, $v2), "203.0.113.9 5555 127.0.0.1 80 127.0.0.1\n",
    'v2 TCP4 addresses');
is(exchange($p1, "PROXY UNKNOWN\r\n"), "    127.0.0.1\n",
    'UNKNOWN: no proxy_protocol addresses');

my $payload = join '', map { chr($_ % 251) } 1 .. 200000;
is(exchange($p2, "PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n$payload",
        length $payload),
    $payload, 'the payload after the header reaches the upstream intact');
is(exchange($p2, $v2 . "hello", 5), "hello", 'same after a v2 header');

$t->expect_errors();
my $off = $t->log_size;
is(exchange($p1, "GET / HTTP/1.1\r\n\r\n"), '', 'no header: closed, nothing sent');
ok($t->wait_log(qr/\[error\] \d+#0: broken header: no PROXY protocol header while reading PROXY protocol, client: 127\.0\.0\.1/,
    from => $off), '  logged as a broken header');
is(exchange($p1, "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"), '',
    'bad port: closed');
ok($t->wait_log(qr/broken header: PROXY protocol v1 header has an invalid port/,
    from => $off), '  with the reason');
is(exchange($p1, "PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n"),
    "192.0.2.7 40000 198.51.100.1 443 127.0.0.1\n", 'the server still serves');

my $r = $t->run('-p', $t->prefix, '-c', $t->write_conf(<<"EOF", name => 'udp.conf'), '-t');
events { }
stream { server { listen 127.0.0.1:$p1 udp proxy_protocol; return "x"; } }
EOF
is($r->{code}, 1, 'proxy_protocol with udp is a -t error');
like($r->{stderr}, qr/udp\.conf:5: "listen" directive has "proxy_protocol" with "udp", which wmproxy does not support/,
    '  with its message');
$t->done;
