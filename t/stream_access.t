#!/usr/bin/perl
# allow / deny in stream and stream server blocks: a denied TCP client
# (bound to 127.0.0.2 or .3) is closed with no byte sent, its upstream is
# never connected, and the error log says why; allowed clients are
# answered or proxied; a server with rules replaces the stream block's;
# with listen ... proxy_protocol the check comes after the header, on the
# connection's address; IPv6 on [::1]; -t rejects bad values.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use IO::Socket::IP;
use Test::More;
use WmTest;

my $t = WmTest->new(timeout => 90);
my $P = $t->prefix;
my ($p1, $p2, $p3, $p4, $p5, $up) = map { $t->port } 1 .. 6;

# An echo upstream that keeps a copy of every byte it receives.
my $echo = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $up,
    Listen => 16, ReuseAddr => 1) or die "echo: $!";
my $echo_pid = fork // die;
if (!$echo_pid) {
    while (my $c = $echo->accept) {
        while (sysread($c, my $b, 65536)) {
            open my $fh, '>>', "$P/upstream.data" or die;
            print $fh $b;
            close $fh;
            syswrite($c, $b);
        }
        close $c;
    }
    exit 0;
}
END { local $?; if ($echo_pid) { kill "KILL", $echo_pid; waitpid($echo_pid, 0) } }
close $echo;

sub upstream_data {
    open my $fh, '<', "$P/upstream.data" or return '';
    local $/;
    return <$fh>;
}

$t->write_conf(<<"EOF");
events { }
stream {
    deny 127.0.0.3;
    server {
        listen 127.0.0.1:$p1;
        deny 127.0.0.2;
        allow 127.0.0.0/8;
        deny all;
        return "hello \$remote_addr\\n";
    }
    server {
        listen 127.0.0.1:$p2;
        allow 127.0.0.1;
        deny all;
        proxy_pass 127.0.0.1:$up;
    }
    server {
        listen 127.0.0.1:$p3;
        return "inherits\\n";
    }
    server {
        listen 127.0.0.1:$p4 proxy_protocol;
        deny 127.0.0.2;
        return "pp \$proxy_protocol_addr \$remote_addr\\n";
    }
    server {
        listen [::1]:$p5;
        allow 127.0.0.1;
        deny ::1;
        return "v6\\n";
    }
}
EOF
$t->start(ports => [$p1, $p2, $p3, $p4]) or BAIL_OUT('no start');

sub conn {
    my ($from, $port) = @_;
    my $s = $from eq '::1'
      ? IO::Socket::IP->new(PeerHost => '::1', PeerPort => $port, Timeout => 5)
      : IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        LocalAddr => $from, Timeout => 5);
    $s or die "connect from $from to $port: $!";
    return $s;
}

# Sends, then reads until EOF (or a reset): the bytes, and 'eof' or
# 'reset' or 'timeout'.
sub exchange {
    my ($from, $port, $send, $s) = @_;
    $s //= conn($from, $port);
    syswrite($s, $send) if defined $send && length $send;
    my ($got, $end) = ('', 'timeout');
    my $sel = IO::Select->new($s);
    while ($sel->can_read(10)) {
        my $n = sysread($s, my $b, 65536);
        if (!defined $n) { $end = 'reset'; last }
        if ($n == 0)     { $end = 'eof';   last }
        $got .= $b;
        if ($port == $p2 && length $got >= length $send) { $end = 'eof'; last }
    }
    return $got, $end;
}

my ($got, $end);

($got, $end) = exchange('127.0.0.1', $p1);
is($got, "hello 127.0.0.1\n", 'allowed by the /8 rule: answered');
my $off = $t->log_size;
($got, $end) = exchange('127.0.0.2', $p1);
is($got, '', 'denied by the first rule: no byte');
like($end, qr/^(eof|reset)$/, '  and the connection is closed');
ok($t->wait_log(qr{\[error\] \d+#0: access forbidden by rule, client: 127\.0\.0\.2, server: 127\.0\.0\.1:$p1\n},
    from => $off), '  error.log: access forbidden by rule');
($got, $end) = exchange('127.0.0.3', $p1);
is($got, "hello 127.0.0.3\n",
    'server rules replace the stream block\'s deny 127.0.0.3');

($got, $end) = exchange('127.0.0.1', $p2, "ping through the proxy");
is($got, 'ping through the proxy', 'allowed client is proxied');
is(upstream_data(), 'ping through the proxy', '  the upstream got the bytes');
$off = $t->log_size;
($got, $end) = exchange('127.0.0.2', $p2, "must not pass");
is($got, '', 'denied client of the proxy: no byte');
like($end, qr/^(eof|reset)$/, '  closed');
ok($t->wait_log(qr{access forbidden by rule, client: 127\.0\.0\.2, server: 127\.0\.0\.1:$p2},
    from => $off), '  logged');
select(undef, undef, undef, 0.3);
is(upstream_data(), 'ping through the proxy',
    '  the upstream never got the denied bytes');

($got, $end) = exchange('127.0.0.3', $p3);
is($got, '', 'a server without rules inherits the stream-level deny');
($got, $end) = exchange('127.0.0.2', $p3);
is($got, "inherits\n", '  which denies that client only');

# proxy_protocol: the check runs after the header, on the connection's
# address (the balancer's), not the one in the header.
my $hdr = "PROXY TCP4 127.0.0.2 127.0.0.1 40000 $p4\r\n";
($got, $end) = exchange('127.0.0.1', $p4, $hdr);
is($got, "pp 127.0.0.2 127.0.0.1\n",
    'proxy_protocol: the address in the header is not checked');
{
    my $s = conn('127.0.0.2', $p4);
    ok(!IO::Select->new($s)->can_read(0.5),
        'proxy_protocol: nothing happens before the header comes');
    $off = $t->log_size;
    ($got, $end) = exchange('127.0.0.2', $p4, $hdr, $s);
    is($got, '', '  then the denied connection is closed with no byte');
    ok($t->wait_log(qr{access forbidden by rule, client: 127\.0\.0\.2, server: 127\.0\.0\.1:$p4},
        from => $off), '  and logged');
}

($got, $end) = exchange('::1', $p5);
is($got, '', 'IPv6 client denied by deny ::1');
ok($t->wait_log(qr{access forbidden by rule, client: \[?::1\]?, server: \[::1\]:$p5}),
    '  logged');

($got, $end) = exchange('127.0.0.1', $p1);
is($got, "hello 127.0.0.1\n", 'the server still serves');

for my $b (['allow 1.2.3.4/40;', '"allow" directive has invalid value "1.2.3.4/40"'],
    ['deny unix:/x;', '"deny" directive has invalid value "unix:/x"'])
{
    my $conf = $t->write_conf(<<"EOF", name => 'bad.conf');
events { }
stream { server { listen 127.0.0.1:$p1; $b->[0] return x; } }
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 1, "-t rejects \"$b->[0]\"");
    like($r->{stderr}, qr/bad\.conf:5: \Q$b->[1]\E/, '  with its message');
}
$t->done;
