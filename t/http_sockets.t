#!/usr/bin/perl
# Socket-level settings of the HTTP server, seen from outside: the
# listen parameters backlog= (the Send-Q that ss shows for a listening
# socket) and reuseport (one socket per worker, each polled by its own
# worker, kept through a respawn and a reload),
# and, through strace on a worker, tcp_nodelay (TCP_NODELAY on each
# accepted connection) and tcp_nopush (TCP_CORK set before the response
# of a sendfile location and cleared after it, so that its last packet
# leaves at once). The strace part is skipped when strace cannot attach.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(WNOHANG);
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_REUSEPORT pack_sockaddr_in
  inet_aton);
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($p_back, $p_reuse, $p_plain, $p_cork, $p_nodelay_off) =
  map { $t->port } 1 .. 5;

$t->write_file('html/a.txt', "a file\n");
$t->write_file('html/big.bin', 'b' x 200_000);

my $CONF = <<"EOF";
worker_processes 2;
events { }
http {
    root $P/html;
    default_type text/plain;
    access_log off;
    server { listen 127.0.0.1:$p_back backlog=17; }
    server {
        listen 127.0.0.1:$p_reuse reuseport;
        location = /pid { return 200 "\$pid\\n"; }
    }
    server { listen 127.0.0.1:$p_plain; }
    server {
        listen 127.0.0.1:$p_cork;
        sendfile on;
        tcp_nopush on;
        location /nocork/ { alias $P/html/; tcp_nopush off; }
        location /nosendfile/ { alias $P/html/; sendfile off; }
    }
    server { listen 127.0.0.1:$p_nodelay_off; tcp_nodelay off; }
}
EOF
$t->write_conf($CONF);
$t->start(workers => 2,
    ports => [ $p_back, $p_reuse, $p_plain, $p_cork, $p_nodelay_off ])
  or do { $t->done; exit };

sub get {
    my ($port, $path) = @_;
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send("GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close"
          . "\r\n\r\n");
    return $c->read_response;
}

# Lines of `ss -Hltn` for a port: [Recv-Q, Send-Q] of each socket.
sub listeners {
    my $port = shift;
    my @l = grep { /127\.0\.0\.1:$port\s/ } `ss -Hltn 2>/dev/null`;
    return map { [ (split ' ')[ 1, 2 ] ] } @l;
}

SKIP: {
    my @all = `ss -Hltn 2>/dev/null`;
    skip 'ss does not work here', 6 unless $? == 0 && @all;

    my @b = listeners($p_back);
    is(scalar @b, 1, 'backlog=17: one listening socket');
    is($b[0][1], 17, 'backlog=17: the kernel has a backlog of 17');
    my @d = listeners($p_plain);
    is($d[0][1], 511, 'no backlog=: 511 (as nginx)');

    is(scalar listeners($p_reuse), 2,
        'reuseport with 2 workers: 2 listening sockets');
    is(scalar listeners($p_plain), 1, 'without reuseport: 1 socket');

    # SO_REUSEPORT is on exactly when a socket of our own may bind the
    # same address too (it is closed at once, never listens).
    for ([ $p_reuse, 1, 'reuseport: SO_REUSEPORT is set' ],
        [ $p_plain, 0, 'without reuseport: SO_REUSEPORT is not set' ])
    {
        my ($port, $want, $name) = @$_;
        socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
        setsockopt($s, SOL_SOCKET, SO_REUSEPORT, 1) or die "SO_REUSEPORT: $!";
        my $ok = bind($s, pack_sockaddr_in($port, inet_aton('127.0.0.1')));
        close $s;
        is($ok ? 1 : 0, $want, $name);
    }

}

# reuseport: each worker polls one socket of its own; the master holds all
# of them, so a replacement worker takes over the socket of the one it
# replaces, and a reload keeps them.
sub reuse_inodes {
    my $want = sprintf ':%04X', $p_reuse;
    open my $fh, '<', '/proc/net/tcp' or return ();
    return sort map { (split ' ')[9] }
      grep { my @f = split ' '; @f > 9 && $f[1] =~ /\Q$want\E$/
          && $f[3] eq '0A' } <$fh>;
}

# worker pid => the reuseport inode it holds ('' when not exactly one).
sub owners {
    my %in = map { $_ => 1 } reuse_inodes();
    my %own;
    for my $w ($t->workers) {
        my @mine = grep { $in{$_} } $t->fd_inodes($w);
        $own{$w} = @mine == 1 ? $mine[0] : '';
    }
    return %own;
}

sub served_by {
    my %seen;
    for (1 .. 40) {
        my $r = get($p_reuse, '/pid');
        $seen{$1}++ if !$r->{error} && $r->{body} =~ /^(\d+)\n\z/;
    }
    return %seen;
}

{
    my @ino = reuse_inodes();
    is(scalar @ino, 2, 'reuseport, 2 workers: 2 sockets in /proc/net/tcp');
    my %own = owners();
    my @held = sort grep { $_ ne '' } values %own;
    is_deeply(\@held, \@ino, 'each worker holds one of them, a different '
          . 'one') or diag(explain(\%own));
    my %in = map { $_ => 1 } @ino;
    is(scalar(grep { $in{$_} } $t->fd_inodes($t->master_pid)), 2,
        'the master holds both');
    my %seen = served_by();
    is_deeply([ sort keys %seen ], [ sort keys %own ],
        '40 connections are served by both workers')
      or diag(explain(\%seen));

    # A worker killed: its replacement polls the same socket.
    my ($victim) = sort keys %own;
    $t->expect_errors(qr/worker process $victim exited on signal 9/);
    kill 'KILL', $victim;
    ok($t->wait_until(sub {
            my @n = $t->workers;
            @n == 2 && !grep { $_ == $victim } @n }, 10),
        'a killed worker is replaced');
    # Until it has started, the new process holds the copies it forked.
    my (%own2, $new);
    $t->wait_until(sub {
            %own2 = owners();
            ($new) = grep { !exists $own{$_} } keys %own2;
            return $new && $own2{$new} ne '';
        }, 10);
    is($own2{$new // 0}, $own{$victim}, 'the new worker polls the socket '
          . 'of the one it replaces');
    %seen = served_by();
    is_deeply([ sort keys %seen ], [ sort keys %own2 ],
        'then both workers serve again') or diag(explain(\%seen));

    # A reload keeps both sockets; the new workers share them out again.
    $t->reload(workers => 2);
    is_deeply([ reuse_inodes() ], \@ino, 'a reload keeps the 2 sockets');
    my %own3;
    $t->wait_until(sub {
            %own3 = owners();
            return !grep { $_ eq '' } values %own3;
        }, 10);
    is_deeply([ sort grep { $_ ne '' } values %own3 ], \@ino,
        'the new workers hold one each');
    %seen = served_by();
    is_deeply([ sort keys %seen ], [ sort keys %own3 ],
        'and both serve') or diag(explain(\%seen));

    # More workers: one more socket; fewer: the extra ones are closed.
    for my $n (3, 1, 2) {
        (my $conf = $CONF) =~ s/^worker_processes 2;/worker_processes $n;/m;
        $t->write_conf($conf);
        $t->reload(workers => $n);
        my @now = reuse_inodes();
        is(scalar @now, $n, "reload to $n workers: $n socket(s)");
        my %keep = map { $_ => 1 } @ino;
        is(scalar(grep { $keep{$_} } @now), $n < @ino ? $n : scalar @ino,
            "reload to $n workers: the sockets that stay are the same");
        $t->wait_until(sub {
                my %o = owners();
                return !grep { $_ eq '' } values %o;
            }, 10);
        %seen = served_by();
        is(scalar keys %seen, $n, "reload to $n workers: all serve")
          or diag(explain(\%seen));
        @ino = @now;
    }
}

# ---- strace on the workers ------------------------------------------------------

my @strace;
sub start_strace {
    my @w = $t->workers;
    my $out = "$P/strace.out";
    unlink $out;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', "$P/strace.err";
        { no warnings 'exec';
          exec 'strace', '-qq', '-f', '-e', 'trace=setsockopt,accept4', '-o',
          $out, map { ('-p', $_) } @w; }
        POSIX::_exit(127);
    }
    push @strace, $pid;
    # Attached when each worker's first syscall can be seen: poke them.
    my $end = time + 10;
    while (time < $end) {
        last if waitpid($pid, WNOHANG) == $pid;
        get($p_plain, '/a.txt') for 1 .. 2;
        my $s = -s $out;
        return ($pid, $out) if $s && `grep -c accept4 $out` >= 1;
        sleep 0.2;
    }
    stop_strace($pid);
    return;
}

sub stop_strace {
    my $pid = shift;
    kill 'INT', $pid;
    for (1 .. 100) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    if (kill 0, $pid) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    @strace = grep { $_ != $pid } @strace;
}
END { kill 'KILL', $_ for @strace }

sub slurp {
    open my $fh, '<', shift or return '';
    local $/;
    return <$fh>;
}

SKIP: {
    skip 'strace is not installed', 9 unless `which strace 2>/dev/null`;
    my ($pid, $out) = start_strace();
    skip 'strace cannot attach to the workers here: '
      . slurp("$P/strace.err"), 9 unless $pid;

    # One connection at a time, so that the trace reads in order.
    my %r;
    for my $case ([ cork => $p_cork, '/big.bin' ],
        [ nocork => $p_cork, '/nocork/big.bin' ],
        [ nosendfile => $p_cork, '/nosendfile/big.bin' ],
        [ nodelay_off => $p_nodelay_off, '/a.txt' ])
    {
        my ($name, $port, $path) = @$case;
        my $r = get($port, $path);
        $r{$name} = $r;
        sleep 0.3;
    }
    sleep 0.5;
    stop_strace($pid);
    my $trace = slurp($out);

    is(length($r{cork}{body} // ''), 200_000, 'tcp_nopush: the file is '
          . 'served whole');
    # Each accept4 starts a connection (of a worker: pid/fd); the
    # setsockopt calls on that fd follow it.
    my (@conns, %cur);
    for (split /\n/, $trace) {
        if (/^(\d+)\s+(?:accept4\(|<\.\.\. accept4 resumed>).*=\s*(\d+)$/) {
            push @conns, [];
            $cur{"$1/$2"} = $conns[-1];
        } elsif (/^(\d+)\s+setsockopt\((\d+), SOL_TCP, (TCP_\w+), \[(\d+)\]/) {
            push @{ $cur{"$1/$2"} }, "$3 $4" if $cur{"$1/$2"};
        }
    }
    my @seq = map { join ' ', @$_ } @conns;
    ok(scalar @seq >= 4, 'strace saw the connections') or diag($trace);
    # The last four connections are the four cases, in order.
    my @last = @seq[ -4 .. -1 ];
    is($last[0], 'TCP_NODELAY 1 TCP_CORK 1 TCP_CORK 0',
        'tcp_nopush on with sendfile: TCP_NODELAY, then TCP_CORK on and '
          . 'off around the response');
    is($last[1], 'TCP_NODELAY 1', 'tcp_nopush off: no TCP_CORK');
    is($last[2], 'TCP_NODELAY 1', 'sendfile off: no TCP_CORK (as nginx)');
    is($last[3], '', 'tcp_nodelay off: no TCP_NODELAY');
    is($r{$_}{status}, 200, "$_: 200") for qw(nocork nosendfile nodelay_off);
}

is(get($p_plain, '/a.txt')->{body}, "a file\n", 'still serving');
$t->done;
