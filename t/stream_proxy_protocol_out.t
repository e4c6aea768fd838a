#!/usr/bin/perl
# proxy_protocol on in a stream server: the upstream receives a PROXY
# header (version 1 text, or 2 binary with proxy_protocol_version 2) for
# the client's connection, byte for byte, before the client's own bytes;
# IPv6 clients get TCP6 / AF_INET6; -t refuses bad versions.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Socket::IP;
use IO::Select;
use POSIX ();
use WmTest;

my $t = WmTest->new(timeout => 60);
my $P = $t->prefix;
my ($p1, $p2, $p6, $up) = ($t->port, $t->port, $t->port, $t->port);

# An echo upstream: everything it gets, the PROXY header included, comes
# back to the client.
my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$up", Listen => 16,
    ReuseAddr => 1) or die "listen: $!";
my $echo = fork // die;
if (!$echo) {
    while (my $c = $l->accept) {
        while (sysread($c, my $b, 65536)) { syswrite($c, $b) }
        close $c;
    }
    POSIX::_exit(0);
}
close $l;
END { local $?; if ($echo) { kill 'KILL', $echo; waitpid($echo, 0) } }

$t->write_conf(<<"EOF");
events { }
stream {
    proxy_protocol on;
    server { listen 127.0.0.1:$p1; proxy_pass 127.0.0.1:$up; }
    server {
        listen 127.0.0.1:$p2;
        proxy_protocol_version 2;
        proxy_pass 127.0.0.1:$up;
    }
    server { listen [::1]:$p6; proxy_pass 127.0.0.1:$up; }
}
EOF
$t->start(workers => 1, ports => [$p1, $p2]) or BAIL_OUT('no start');

sub exchange {
    my ($sock, $send, $want) = @_;
    syswrite($sock, $send);
    my $got = '';
    my $sel = IO::Select->new($sock);
    while (length($got) < $want && $sel->can_read(5)) {
        my $n = sysread($sock, my $b, 65536);
        last unless $n;
        $got .= $b;
    }
    return $got;
}

{
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p1") or die $!;
    my $cport = $c->sockport;
    my $want = "PROXY TCP4 127.0.0.1 127.0.0.1 $cport $p1\r\nhello";
    is(exchange($c, 'hello', length $want), $want,
        'v1: the header, then the client bytes');
}
{
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p2") or die $!;
    my $cport = $c->sockport;
    my $want = "\r\n\r\n\0\r\nQUIT\n" . "\x21\x11" . pack('n', 12)
      . pack('C4', 127, 0, 0, 1) . pack('C4', 127, 0, 0, 1)
      . pack('nn', $cport, $p2) . 'payload';
    is(unpack('H*', exchange($c, 'payload', length $want)), unpack('H*', $want),
        'v2: the binary header, byte for byte, then the client bytes');
}
SKIP: {
    my $c = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $p6)
      or skip('no IPv6 loopback', 1);
    my $cport = $c->sockport;
    my $want = "PROXY TCP6 ::1 ::1 $cport $p6\r\nsix";
    is(exchange($c, 'six', length $want), $want, 'v1 over IPv6: TCP6');
}

for my $bad ('proxy_protocol_version 3;', 'proxy_protocol maybe;',
    'proxy_protocol on; proxy_buffer_size 64;')
{
    $t->write_file('bad.conf', "events { } stream { server { listen "
          . "127.0.0.1:1; $bad proxy_pass 127.0.0.1:2; } }\n");
    my $r = $t->run('-t', '-c', "$P/bad.conf");
    isnt($r->{code}, 0, "-t fails: $bad");
    like($r->{stderr}, qr/proxy_protocol|proxy_buffer_size/, "-t says why: $bad");
}

$t->done;
