#!/usr/bin/perl
# Reload (SIGHUP, `-s reload`): new workers replace the old ones, a broken
# config keeps the old ones serving, listening sockets survive every reload
# (same inode, no refused connection), added ports open and removed ones
# close.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use Errno qw(ECONNREFUSED);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
# nginx logs the signal line "signal 1 (SIGHUP) received from PID,
# reconfiguring" and then "reconfiguring": either form is the message.
my $RECONF = qr/(?:signal 1 \(SIGHUP\) received(?: from \d+)?, )?reconfiguring/;

# Fresh ports in each section: a port is never reused within a test.
my ($pa, $pb);

# worker_processes N, port a answering "a\n"; $servers go into the stream
# block, $main after it.
sub conf {
    my ($n, $main, $servers) = @_;
    return <<"EOF" . ($main // '');
worker_processes $n;
events { }
stream {
    server {
        listen 127.0.0.1:$pa;
        return "a\\n";
    }
@{[ $servers // '' ]}}
EOF
}

$t->section('worker_processes 2 -> 3 (-s reload) -> 1 (HUP)' => sub {
    ($pa, $pb) = ($t->port, $t->port);
    my $conf = $t->write_conf(conf(2));
    my $mp   = $t->start(workers => 2, ports => [$pa]) or return;
    my @w2   = $t->workers;
    my $ino  = $t->listen_inode($pa);
    ok($ino, "port $pa has a listening socket (inode " . ($ino // '?') . ')');
    ok(grep({ $_ eq ($ino // '') } $t->fd_inodes($mp)),
        'the master holds the listening socket');

    $t->write_conf(conf(3));
    my $off = $t->log_size;
    my @w3 = $t->reload(workers => 3, via => 'command');
    is(scalar @w3, 3, '-s reload after worker_processes 3: 3 new workers');
    is(scalar(grep { $t->alive($_) } @w2), 0, 'the 2 old workers are gone');
    is($t->read_pid, $mp, 'the master is the same process');
    like($t->log_since($off), qr/^$D \[\w+\] $mp#0: $RECONF$/m,
        'the master logs "reconfiguring"');
    my @started = $t->log_since($off) =~ /^$D \[\w+\] $mp#0: start worker process (\d+)$/mg;
    is_deeply([ sort { $a <=> $b } @started ], [ sort { $a <=> $b } @w3 ],
        'the master logs "start worker process" for the 3 new workers');
    for my $w (@w2) {
        like($t->log_since($off), qr/^$D \[\w+\] $w#0: gracefully shutting down$/m,
            "old worker $w logs \"gracefully shutting down\"");
        like($t->log_since($off), qr/^$D \[\w+\] $w#0: exiting$/m,
            "old worker $w logs \"exiting\"");
    }
    is($t->talk($pa), "a\n", 'the port answers after the reload');

    $t->write_conf(conf(1));
    my @w1 = $t->reload(workers => 1);
    is(scalar @w1, 1, 'HUP after worker_processes 1: 1 new worker');
    is($t->listen_inode($pa), $ino, 'the listening socket is the same one');
    $t->stop;
});

$t->section('a broken reload keeps the old workers' => sub {
    ($pa, $pb) = ($t->port, $t->port);
    my $conf = $t->write_conf(conf(1));
    my $mp   = $t->start(workers => 1, ports => [$pa]) or return;
    my @w1   = $t->workers;
    my $ino  = $t->listen_inode($pa);
    $t->write_conf(conf(2, "foo bar;\n"));
    # header (3 lines) + conf (8 lines): foo is on line 12
    $t->expect_errors(qr/\Q$conf\E:12: "foo" directive is unknown/);
    my $off = $t->log_size;
    $t->signal('HUP');
    ok($t->wait_log(qr/^$D \[emerg\] $mp#0: \Q$conf\E:12: "foo" directive is unknown$/m,
            from => $off),
        'a broken reload logs the error at [emerg] with file:line');
    sleep 1;
    is_deeply([ $t->workers ], \@w1, 'after a broken reload the old worker still runs');
    ok($t->alive($mp), 'the master still runs');
    is($t->talk($pa), "a\n", 'the old worker still serves');
    unlike($t->log_since($off), qr/start worker process/,
        'no worker was started by the broken reload');

    # A port that cannot be bound fails the reload too; nothing changes.
    my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Listen => 5, ReuseAddr => 0) or die "listen: $!";
    my $pbusy = $busy->sockport;
    $t->expect_errors(qr/127\.0\.0\.1:$pbusy/,
        qr/\[emerg\] $mp#0: cannot start the new configuration, see the error log$/);
    $t->write_conf(conf(1, '',
        "    server { listen 127.0.0.1:$pbusy; return \"busy\\n\"; }\n"));
    $off = $t->log_size;
    $t->signal('HUP');
    ok($t->wait_log(qr/^$D \[emerg\] $mp#0: .*127\.0\.0\.1:$pbusy.*Address already in use/m,
            from => $off),
        'a reload with a port in use logs [emerg] with the address');
    sleep 1;
    is_deeply([ $t->workers ], \@w1, 'after it the old worker still runs');
    is($t->talk($pa), "a\n", 'and still serves');
    is($t->listen_inode($pa), $ino, 'the old listening socket was not touched');
    close $busy;
    $t->stop;
});

$t->section('a reload adds and removes ports' => sub {
    ($pa, $pb) = ($t->port, $t->port);
    $t->write_conf(conf(1));
    my $mp  = $t->start(workers => 1, ports => [$pa]) or return;
    my $ino = $t->listen_inode($pa);
    $t->write_conf(conf(1, '',
        "    server { listen 127.0.0.1:$pb; return \"b\\n\"; }\n"));
    $t->reload(workers => 1);
    is($t->talk($pb), "b\n", 'a port added by a reload answers');
    is($t->talk($pa), "a\n", 'the kept port still answers');
    is($t->listen_inode($pa), $ino, 'the kept port has the same socket');
    my $inob = $t->listen_inode($pb);

    $t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream { server { listen 127.0.0.1:$pb; return "b2\\n"; } }
EOF
    $t->reload(workers => 1);
    is($t->talk($pb), "b2\n", 'the new config serves on the kept port');
    is($t->talk($pa), undef, 'a port removed by a reload is closed');
    ok($!{ECONNREFUSED}, 'connections to the removed port are refused');
    is($t->listen_inode($pa), undef, 'nothing listens on the removed port');
    is($t->listen_inode($pb), $inob, 'the kept port has the same socket');
    $t->stop;
});

$t->section('20 reloads under a client connecting in a loop' => sub {
    ($pa, $pb) = ($t->port, $t->port);
    $t->write_conf(conf(2));
    my $mp  = $t->start(workers => 2, ports => [$pa]) or return;
    my $ino = $t->listen_inode($pa);

    my $res = "$P/client.result";
    my $client = fork // die "fork: $!";
    if ($client == 0) {
        my $stop = 0;
        my $parent = getppid;
        $SIG{TERM} = sub { $stop = 1 };
        $SIG{ALRM} = sub { POSIX::_exit(1) };
        alarm 200;
        my %n = (ok => 0, refused => 0, other => 0, bad => 0);
        my $first_bad = '';
        while (!$stop && getppid == $parent) {
            my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$pa",
                Timeout => 5);
            if (!$s) {
                if ($! == ECONNREFUSED) { $n{refused}++ }
                else { $n{other}++; $first_bad ||= "connect: $!" }
                next;
            }
            my $buf = '';
            my $end = time + 5;
            while (time < $end) {
                my $rin = '';
                vec($rin, fileno($s), 1) = 1;
                last unless select($rin, undef, undef, $end - time);
                my $r = sysread($s, $buf, 4096, length $buf);
                last unless $r;
            }
            close $s;
            if ($buf eq "a\n") { $n{ok}++ }
            else { $n{bad}++; $first_bad ||= "answer: \"$buf\"" }
        }
        open my $fh, '>', $res;
        print $fh join(' ', map { "$_=$n{$_}" } sort keys %n), "\n$first_bad\n";
        close $fh;
        POSIX::_exit(0);
    }

    sleep 0.3;
    my $off = $t->log_size;
    my $reloads_ok = 0;
    for my $i (1 .. 20) {
        my @new = $t->reload(workers => 2);
        $reloads_ok++ if @new == 2;
    }
    is($reloads_ok, 20, '20 reloads each replaced the workers');
    sleep 0.3;
    kill 'TERM', $client;
    waitpid $client, 0;
    my ($counts, $first_bad) = split /\n/, do {
        open my $fh, '<', $res or die "$res: $!";
        local $/;
        <$fh>;
    };
    my %n = map { split /=/ } split ' ', $counts;
    diag("client during 20 reloads: $counts");
    ok($n{ok} > 20, 'the client was served during the reloads');
    is($n{refused}, 0, 'no connection was refused during 20 reloads');
    is($n{other} + $n{bad}, 0, 'no connection failed or got a wrong answer')
      or diag($first_bad);
    my @rc = $t->log_since($off) =~ /^$D \[\w+\] $mp#0: $RECONF$/mg;
    is(scalar @rc, 20, '20 "reconfiguring" lines');
    is($t->listen_inode($pa), $ino, 'the listening socket has the same inode after 20 reloads');
    ok(grep({ $_ eq ($ino // '') } $t->fd_inodes($mp)),
        'the master still holds that socket');
    is($t->read_pid, $mp, 'the master is the same process');
    is(scalar(my @ws = $t->workers), 2, 'and it has 2 workers');
    $t->stop;
});

$t->done;
