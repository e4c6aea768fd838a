#!/usr/bin/perl
# $termination in the stream access log says why a proxied TCP session
# ended: client_closed, upstream_closed, client_reset, upstream_reset (the
# reset also passed on to the other side), idle_timeout (proxy_timeout),
# connect_timeout, connect_refused, and a failed first peer forgotten once
# the next one serves.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;

my $t = WmTest->new(timeout => 120);
my %port = map { $_ => $t->port } qw(plain idle ctimeout refused failover);
my ($pb, $pdead) = ($t->port, $t->port);

my $be = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$pb", Listen => 16,
    ReuseAddr => 1) or die "listen $pb: $!";
# a server whose listen queue is full: SYNs are dropped, connect() hangs
my $hole = IO::Socket::INET->new(LocalAddr => '127.0.0.1:0', Listen => 1)
  or die "listen: $!";
my @fill = map {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $hole->sockport,
        Timeout => 1)
} 1 .. 2;
my $phole = $hole->sockport;

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream {
    log_format t '\$server_port \$status \$termination';
    access_log logs/stream.log t;
    upstream failover { server 127.0.0.1:$pdead; server 127.0.0.1:$pb; }
    server { listen 127.0.0.1:$port{plain}; proxy_pass 127.0.0.1:$pb; }
    server {
        listen 127.0.0.1:$port{idle};
        proxy_pass 127.0.0.1:$pb;
        proxy_timeout 1s;
    }
    server {
        listen 127.0.0.1:$port{ctimeout};
        proxy_pass 127.0.0.1:$phole;
        proxy_connect_timeout 1s;
    }
    server { listen 127.0.0.1:$port{refused}; proxy_pass 127.0.0.1:$pdead; }
    server { listen 127.0.0.1:$port{failover}; proxy_pass failover; }
}
EOF
$t->start(workers => 1) or BAIL_OUT('no start');

my $nlines = 0;

# The next access log line (waits for it).
sub next_line {
    my @l;
    $t->wait_until(sub {
            @l = split /\n/, $t->log_text('logs/stream.log');
            @l > $nlines;
        }, 15);
    return $l[ $nlines++ ] // '';
}

# A client on $port and the backend's side of its session.
sub pair {
    my $port = shift;
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => 5) or die "connect $port: $!";
    IO::Select->new($be)->can_read(5) or die "no upstream connection";
    my $u = $be->accept or die "accept: $!";
    return ($c, $u);
}

# Reads $s until EOF or an error: (bytes, 'eof' | 'reset' | error text).
sub drain {
    my $s = shift;
    my ($got, $how) = ('', 'timeout');
    my $sel = IO::Select->new($s);
    while ($sel->can_read(5)) {
        my $r = sysread($s, $got, 1000, length $got);
        if (!defined $r) { $how = $!{ECONNRESET} ? 'reset' : "$!"; last }
        if ($r == 0) { $how = 'eof'; last }
    }
    return ($got, $how);
}

sub hard_close {
    my $s = shift;
    setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $s;
}

{
    my ($c, $u) = pair($port{plain});
    print $c 'ping';
    close $c;
    is_deeply([ drain($u) ], [ 'ping', 'eof' ],
        'client FIN: the upstream gets the bytes, then EOF');
    is(next_line(), "$port{plain} 200 client_closed", 'logged: client_closed');
}
{
    my ($c, $u) = pair($port{plain});
    print $u 'pong';
    close $u;
    is_deeply([ drain($c) ], [ 'pong', 'eof' ],
        'upstream FIN: the client gets the bytes, then EOF');
    is(next_line(), "$port{plain} 200 upstream_closed",
        'logged: upstream_closed');
}
{
    my ($c, $u) = pair($port{plain});
    syswrite $c, 'x';
    sysread($u, my $b, 1);
    hard_close($c);
    is((drain($u))[1], 'reset', 'client reset: passed on to the upstream');
    is(next_line(), "$port{plain} 200 client_reset", 'logged: client_reset');
}
{
    my ($c, $u) = pair($port{plain});
    syswrite $u, 'bye';
    sleep 0.3;
    hard_close($u);
    is_deeply([ drain($c) ], [ 'bye', 'reset' ],
        'upstream reset: passed on to the client after its bytes');
    is(next_line(), "$port{plain} 200 upstream_reset",
        'logged: upstream_reset');
}
{
    my ($c, $u) = pair($port{idle});
    my $t0 = time;
    my @r = drain($c);
    ok(time - $t0 >= 0.9, 'proxy_timeout 1s: the idle session ends after 1 s');
    is($r[1], 'eof', 'idle timeout: the client is closed');
    is(next_line(), "$port{idle} 200 idle_timeout", 'logged: idle_timeout');
    close $u;
}
is($t->talk($port{ctimeout}, 'x'), '', 'connect timeout: the client is closed');
is(next_line(), "$port{ctimeout} 502 connect_timeout",
    'logged: connect_timeout');
is($t->talk($port{refused}, 'x'), '', 'refused: the client is closed');
is(next_line(), "$port{refused} 502 connect_refused",
    'logged: connect_refused');
{
    my ($c, $u) = pair($port{failover});
    print $u 'served';
    close $u;
    is_deeply([ drain($c) ], [ 'served', 'eof' ],
        'the first peer refuses, the second serves');
    is(next_line(), "$port{failover} 200 upstream_closed",
        'logged: how the session ended, not the refused first try');
}

close $_ for $be, $hole, grep { defined } @fill;
$t->done;
