#!/usr/bin/perl
# The stream relay's two ways of moving bytes and its edge handling: short
# exchanges stay on recv/send (no pipe: no "spliced" debug line), a
# direction whose read fills proxy_buffer_size switches to splice() for
# the rest of the session (the bytes before the switch and after it
# arrive intact and in order), and a FIN that comes in the same edge as
# the last bytes is still seen, on either side (a relay that stopped
# reading after a short recv() without looking at EPOLLRDHUP would hang
# on these until proxy_timeout).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Digest::SHA qw(sha256_hex);
use Socket qw(SHUT_WR);
use Time::HiRes qw(sleep time);
use WmTest;
use WmTcp qw(backend pattern connect_to);

my $t = WmTest->new(timeout => 90);
my %port = map { $_ => $t->port } qw(rr bulk banner fin);
my %up = map { $_ => $t->port } qw(rr bulk banner fin);

my $BULK = pattern(4 * 1024 * 1024, 11);
# a line-by-line answering server: "re:LINE" for each line, closes at EOF
backend($up{rr}, sub {
    my $c = shift;
    while (my $line = <$c>) { print $c "re:$line"; $c->flush }
});
# 4 MB in one go, then FIN
backend($up{bulk}, sub {
    my $c = shift;
    my $off = 0;
    while ($off < length $BULK) {
        my $n = syswrite($c, $BULK, length($BULK) - $off, $off) // last;
        $off += $n;
    }
    close $c;
});
# a banner and the FIN at once, without reading
backend($up{banner}, sub {
    my $c = shift;
    syswrite($c, "220 ready and gone\n");
    close $c;
});
# reads to EOF, then says how much it got
backend($up{fin}, sub {
    my $c = shift;
    my $all = '';
    while (sysread($c, my $b, 65536)) { $all .= $b }
    syswrite($c, "got " . length($all) . " bytes: $all");
    close $c;
});

$t->write_conf(<<"EOF");
events { }
stream {
    proxy_timeout 60s;
    server { listen 127.0.0.1:$port{rr}; proxy_pass 127.0.0.1:$up{rr}; }
    server { listen 127.0.0.1:$port{bulk}; proxy_pass 127.0.0.1:$up{bulk}; }
    server { listen 127.0.0.1:$port{banner}; proxy_pass 127.0.0.1:$up{banner}; }
    server {
        listen 127.0.0.1:$port{fin};
        proxy_pass 127.0.0.1:$up{fin};
        proxy_half_close on;
    }
}
EOF
$t->start(workers => 1, ports => [ values %port ]) or BAIL_OUT('no start');


# read_all(SOCK, SECS): everything until EOF, or undef when it does not
# come within SECS
sub read_all {
    my ($c, $secs) = @_;
    my ($all, $end) = ('', time + $secs);
    my $sel = IO::Select->new($c);
    while (time < $end) {
        $sel->can_read(0.5) or next;
        my $n = sysread($c, my $b, 65536);
        return $all if defined $n && $n == 0;
        return undef unless defined $n;
        $all .= $b;
    }
    return undef;
}

sub spliced_lines { scalar grep { /spliced \d+ bytes up/ } split /\n/, $t->log_text }

# 200 request-response rounds on one connection: every answer exact
{
    my $c = connect_to($port{rr});
    my $sel = IO::Select->new($c);
    my $ok = 0;
    for my $i (1 .. 200) {
        syswrite($c, "question $i\n");
        my $got = '';
        while ($got !~ /\n\z/ && $sel->can_read(5)) {
            sysread($c, my $b, 4096) or last;
            $got .= $b;
        }
        $ok++ if $got eq "re:question $i\n";
    }
    is($ok, 200, '200 request-response rounds through the relay, each answer exact');
    shutdown($c, SHUT_WR);
    is(read_all($c, 10), '', 'client FIN: the session ends');
}

# the banner and the upstream's FIN arrive at once
{
    my $c = connect_to($port{banner});
    is(read_all($c, 10), "220 ready and gone\n",
        'upstream bytes with its FIN in one edge: delivered, then the end');
}

# the client's bytes and its FIN at once (half-close passes the FIN on)
{
    my $c = connect_to($port{fin});
    syswrite($c, "hello there\n");
    shutdown($c, SHUT_WR);
    is(read_all($c, 10), "got 12 bytes: hello there\n",
        'client bytes with its FIN in one edge: the upstream saw both');
}

sleep 0.3;
is(spliced_lines(), 0, 'short exchanges used no pipe (no "spliced" line)');

# bulk: the first full buffer goes through recv/send, the rest is spliced
{
    my $c = connect_to($port{bulk});
    my $got = read_all($c, 60);
    ok(defined $got && length($got) == length($BULK)
        && sha256_hex($got) eq sha256_hex($BULK), '4 MB download intact and in order');
}
$t->wait_log(qr/spliced \d+ bytes up, \d+ down/);
my ($down) = $t->log_text =~ /spliced 0 bytes up, (\d+) down/;
ok(defined $down && $down > 0 && $down < length($BULK),
    "bulk direction switched to splice after its first full buffer ("
      . ($down // 'no line') . " of " . length($BULK) . " bytes spliced)");

# still serving
{
    my $c = connect_to($port{rr});
    syswrite($c, "last\n");
    my $sel = IO::Select->new($c);
    my $got = '';
    while ($got !~ /\n\z/ && $sel->can_read(5)) { sysread($c, my $b, 4096) or last; $got .= $b }
    is($got, "re:last\n", 'still serving');
}

$t->done;
