# WmHttpClient - a small raw HTTP/1.x client for the integration tests:
# it sends exact bytes and reads responses one by one (pipelining,
# keep-alive, framing), which curl would hide or fix up.
#
#   my $c = WmHttpClient->new($port);
#   $c->send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
#   my $r = $c->read_response;   # {line, status, headers, h, n, body}
#   $c->wait_eof;
package WmHttpClient;

use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF pack_sockaddr_in inet_aton);
use Time::HiRes qw(time);

# A connection; with rcvbuf, a small receive buffer is set before the
# connect, so that the server's writes block soon (slow clients).
sub new {
    my ($class, $port, $rcvbuf) = @_;
    my $s;
    if ($rcvbuf) {
        $s = IO::Socket::INET->new(Proto => 'tcp') or return;
        setsockopt($s, SOL_SOCKET, SO_RCVBUF, $rcvbuf) or return;
        connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1')))
          or return;
    } else {
        $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
            Proto => 'tcp', Timeout => 5) or return;
    }
    binmode $s;
    return bless { s => $s, buf => '', eof => 0 }, $class;
}

# A client over a socket the caller made (bound to a source address,
# IPv6, unix-domain).
sub from_socket {
    my ($class, $s) = @_;
    binmode $s;
    return bless { s => $s, buf => '', eof => 0 }, $class;
}

sub send {
    my ($self, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($self->{s}, $data, length($data) - $off, $off);
        return 0 unless defined $n;
        $off += $n;
    }
    return 1;
}

# Reads what is there into buf, waiting until the deadline; 0 on EOF (or a
# reset) and on timeout.
sub fill {
    my ($self, $deadline) = @_;
    return 0 if $self->{eof};
    my $left = $deadline - time;
    return 0 if $left <= 0;
    my $rin = '';
    vec($rin, fileno($self->{s}), 1) = 1;
    my $n = select(my $rout = $rin, undef, undef, $left);
    return 0 unless $n && $n > 0;
    my $r = sysread($self->{s}, $self->{buf}, 1 << 20, length $self->{buf});
    if (!$r) {
        $self->{eof}   = 1;
        $self->{reset} = 1 unless defined $r;
        return 0;
    }
    return $r;
}

sub wait_eof {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    $self->fill($deadline) while !$self->{eof} && time < $deadline;
    return $self->{eof};
}

# One response: {line, status, headers => [[name, value]...], h => {lc
# name => value(s)}, n => {lc name => count}, body}, or {error}.
sub read_response {
    my ($self, %o) = @_;
    my $deadline = time + ($o{timeout} // 30);
    my $i;
    until (($i = index($self->{buf}, "\r\n\r\n")) >= 0) {
        next if $self->fill($deadline);
        return { error => ($self->{eof} ? 'connection closed' : 'timeout')
              . ' before a complete response head'
              . (length $self->{buf} ? " (got \"$self->{buf}\")" : ''),
            partial => $self->{buf} };
    }
    my $head = substr($self->{buf}, 0, $i + 4, '');
    my ($line, @lines) = split /\r\n/, substr($head, 0, -4);
    my %r = (line => $line, head => $head, headers => [], h => {}, n => {});
    ($r{status}) = $line =~ m{^HTTP/\d\.\d (\d{3})};
    for (@lines) {
        my ($k, $v) = /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
        push @{ $r{headers} }, [ $k, $v ];
        my $lk = lc $k;
        $r{n}{$lk}++;
        $r{h}{$lk} = exists $r{h}{$lk} ? "$r{h}{$lk}, $v" : $v;
    }
    my $st = $r{status} // 0;
    if ($o{head} || $st == 204 || $st == 304 || ($st >= 100 && $st < 200)) {
        $r{body} = '';
    } elsif (($r{h}{'transfer-encoding'} // '') =~ /chunked/i) {
        my $body = '';
        for (;;) {
            my $j;
            until (($j = index($self->{buf}, "\r\n")) >= 0) {
                $self->fill($deadline)
                  or return { %r, error => 'chunked body cut short' };
            }
            my ($size) = substr($self->{buf}, 0, $j) =~ /^([0-9a-fA-F]+)/;
            return { %r, error => 'bad chunk size' } unless defined $size;
            $size = hex $size;
            if ($size == 0) {
                until (($j = index($self->{buf}, "\r\n\r\n")) >= 0) {
                    $self->fill($deadline)
                      or return { %r, error => 'chunked trailer cut short' };
                }
                substr($self->{buf}, 0, $j + 4, '');
                last;
            }
            while (length($self->{buf}) < $j + 2 + $size + 2) {
                $self->fill($deadline)
                  or return { %r, error => 'chunk cut short' };
            }
            $body .= substr($self->{buf}, $j + 2, $size);
            substr($self->{buf}, 0, $j + 2 + $size + 2, '');
        }
        $r{body} = $body;
        $r{chunked} = 1;
    } elsif (defined $r{h}{'content-length'}) {
        my $len = $r{h}{'content-length'};
        while (length $self->{buf} < $len) {
            $self->fill($deadline)
              or return { %r, body => $self->{buf},
                error => "body cut short: " . length($self->{buf})
                  . " of $len bytes" };
        }
        $r{body} = substr($self->{buf}, 0, $len, '');
    } else {
        1 while $self->fill($deadline);
        $r{body} = $self->{buf};
        $self->{buf} = '';
    }
    return \%r;
}

1;
