# WmMockHttp - mock HTTP upstreams for the proxy tests: listening sockets
# served in lockstep by the test itself (accept, read the exact request
# bytes wmproxy sent, answer with exact bytes), or by forked children for
# long transfers (killed by pid with stop()).
#
#   my $up = WmMockHttp->new;               # 127.0.0.1, a free port
#   ... client sends through wmproxy ...
#   my $rq = $up->accept_request;           # {raw, line, h, body, s}
#   $up->reply($rq, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
package WmMockHttp;

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

our %CHILDREN;

sub new {
    my ($class, %o) = @_;
    my $l;
    if ($o{unix}) {
        unlink $o{unix};
        $l = IO::Socket::UNIX->new(Local => $o{unix}, Listen => 128)
          or die "listen $o{unix}: $!";
    } else {
        $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $o{port} // 0, Listen => 128, ReuseAddr => 1)
          or die "listen: $!";
    }
    return bless { l => $l, port => $o{unix} ? 0 : $l->sockport,
        accepted => 0 }, $class;
}

sub port     { $_[0]{port} }
sub listener { $_[0]{l} }
sub accepted { $_[0]{accepted} }

# Waits for a connection: the socket, or undef after the timeout.
sub accept_conn {
    my ($self, $timeout) = @_;
    my $sel = IO::Select->new($self->{l});
    return unless $sel->can_read($timeout // 10);
    my $s = $self->{l}->accept or return;
    binmode $s;
    $self->{accepted}++;
    return $s;
}

# Reads until $cond->($buf) is true, EOF, or the deadline.
sub _read_until {
    my ($s, $bufref, $deadline, $cond) = @_;
    until ($cond->($$bufref)) {
        my $left = $deadline - time;
        return 0 if $left <= 0;
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        return 0 unless select(my $r = $rin, undef, undef, $left);
        my $n = sysread($s, $$bufref, 1 << 20, length $$bufref);
        return 0 unless $n;
    }
    return 1;
}

# Reads one request from $s (head, then a Content-Length or chunked
# body): {raw, head, line, headers => [[k, v]...], h => {lc k => v},
# body (decoded), s}; {error, raw} when it does not come whole.
sub read_request {
    my ($s, %o) = @_;
    my $deadline = time + ($o{timeout} // 10);
    my $buf = $o{buf} // '';
    _read_until($s, \$buf, $deadline, sub { index($_[0], "\r\n\r\n") >= 0 })
      or return { error => 'no complete head', raw => $buf, s => $s };
    my $i = index($buf, "\r\n\r\n");
    my $head = substr($buf, 0, $i + 4);
    my ($line, @lines) = split /\r\n/, substr($head, 0, -4);
    my %r = (head => $head, line => $line, headers => [], h => {}, s => $s);
    for (@lines) {
        my ($k, $v) = /^([^:]+): ?(.*)$/ or next;
        push @{ $r{headers} }, [ $k, $v ];
        $r{h}{ lc $k } = exists $r{h}{ lc $k } ? "$r{h}{lc $k}, $v" : $v;
    }
    my $pos = $i + 4;
    if (($r{h}{'transfer-encoding'} // '') =~ /chunked/) {
        my $body = '';
        for (;;) {
            _read_until($s, \$buf, $deadline,
                sub { index($_[0], "\r\n", $pos) >= 0 })
              or return { %r, error => 'chunk size cut', raw => $buf };
            my $j = index($buf, "\r\n", $pos);
            my $size = hex substr($buf, $pos, $j - $pos);
            if ($size == 0) {
                _read_until($s, \$buf, $deadline,
                    sub { length($_[0]) >= $j + 4 })
                  or return { %r, error => 'last chunk cut', raw => $buf };
                $pos = $j + 4;
                last;
            }
            _read_until($s, \$buf, $deadline,
                sub { length($_[0]) >= $j + 2 + $size + 2 })
              or return { %r, error => 'chunk cut', raw => $buf };
            $body .= substr($buf, $j + 2, $size);
            $pos = $j + 2 + $size + 2;
        }
        $r{body} = $body;
    } elsif (my $cl = $r{h}{'content-length'}) {
        _read_until($s, \$buf, $deadline,
            sub { length($_[0]) >= $pos + $cl })
          or return { %r, error => 'body cut', raw => $buf };
        $r{body} = substr($buf, $pos, $cl);
        $pos += $cl;
    } else {
        $r{body} = '';
    }
    $r{raw}  = substr($buf, 0, $pos);
    $r{rest} = substr($buf, $pos);
    return \%r;
}

# Accepts a connection and reads one request from it.
sub accept_request {
    my ($self, %o) = @_;
    my $s = $self->accept_conn($o{timeout}) or return { error => 'no connection' };
    return read_request($s, %o);
}

# Writes $bytes on the request's connection; closes it unless keep.
sub reply {
    my ($self, $rq, $bytes, %o) = @_;
    my $s = $rq->{s};
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($s, $bytes, length($bytes) - $off, $off);
        last unless $n;
        $off += $n;
    }
    close $s unless $o{keep};
}

# Serves every connection in a forked child with $code->($socket) until
# stop(); returns the child's pid.
sub serve {
    my ($self, $code) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{ALRM} = 'DEFAULT';
        alarm 600;
        $SIG{CHLD} = 'IGNORE';
        for (;;) {
            my $s = $self->{l}->accept or next;
            binmode $s;
            my $k = fork;
            if (defined $k && $k == 0) {
                $code->($s);
                POSIX::_exit(0);
            }
            close $s;
        }
    }
    $CHILDREN{$pid} = 1;
    $self->{pid} = $pid;
    return $pid;
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', -$pid;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    delete $CHILDREN{$pid};
}

# Children of serve() that a test left running.
END {
    for my $pid (keys %CHILDREN) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
}

1;
