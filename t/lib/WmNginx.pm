# WmNginx - Debian's nginx next to wmproxy in a test, to compare answers:
# it runs in the foreground as the test's child, with its prefix, logs and
# temporary directories under the test's prefix, and is stopped by its
# pid (also at exit).
#
#   my $n = WmNginx->start($t, http => $http_block_body, port => $port);
#   ...                      # undef when nginx is missing or did not start
#   $n->error_log;           # its error.log so far
#   $n->stop;
#
#   # or both servers at once, on the same http {} body ($body->($port)):
#   my ($ng, $nginx_up, $wm_up) = WmNginx::start_pair($t, \&body, $wport,
#       $nport);
#   my $r = WmNginx::fetch($port, "GET / HTTP/1.1", @headers);
#   WmNginx::comparable($r, $port, @header_names);
package WmNginx;

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep);
use WmHttpClient;

our $BIN = $ENV{WM_NGINX} // '/usr/sbin/nginx';
my @LIVE;

sub available { return -x $BIN }

# Starts nginx with `http { <http> }` and waits until port answers.
# Returns undef without nginx; a start that fails is a failed test (with
# nginx's stderr as a diagnostic) and also returns undef.
sub start {
    my ($class, $t, %o) = @_;
    return undef unless available();
    my $P = $t->prefix;
    mkdir "$P/nginx";
    mkdir "$P/nginx/$_" for qw(logs tmp);
    my $conf = $t->write_file('nginx/nginx.conf', <<"EOF");
daemon off;
master_process off;
pid $P/nginx/nginx.pid;
error_log $P/nginx/logs/error.log @{[ $o{log_level} // 'info' ]};
events { }
http {
    access_log off;
    client_body_temp_path $P/nginx/tmp/body;
    proxy_temp_path $P/nginx/tmp/proxy;
    fastcgi_temp_path $P/nginx/tmp/fastcgi;
    uwsgi_temp_path $P/nginx/tmp/uwsgi;
    scgi_temp_path $P/nginx/tmp/scgi;
$o{http}
}
EOF
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', "$P/nginx/logs/stdout";
        open STDERR, '>', "$P/nginx/logs/stderr";
        { no warnings 'exec';
          exec $BIN, '-p', "$P/nginx/", '-e', "$P/nginx/logs/error.log",
            '-c', $conf; }
        POSIX::_exit(127);
    }
    my $self = bless { pid => $pid, prefix => $P }, $class;
    push @LIVE, $self;
    my $up = $t->wait_until(sub {
        return -1 if waitpid($pid, WNOHANG) == $pid;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$o{port}",
            Timeout => 0.5) or return 0;
        close $s;
        return 1;
    }, 10);
    if ($up != 1) {
        $self->{pid} = 0 if $up == -1;
        $self->stop;
        fail('nginx started');
        diag($self->_slurp('stderr'));
        return undef;
    }
    return $self;
}

sub _slurp {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{prefix}/nginx/logs/$name" or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub error_log { $_[0]->_slurp('error.log') }
sub log_text  { $_[0]->error_log }

sub stop {
    my $self = shift;
    my $pid  = $self->{pid} or return;
    kill 'QUIT', $pid;
    for (1 .. 100) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid if kill 0, $pid;
    waitpid $pid, 0;
    $self->{pid} = 0;
}

END { $_->stop for @LIVE }

# Writes wmproxy's configuration (one worker) around the http {} body
# that $body->($port) makes, starts nginx on the same body with its own
# port when it is installed, then wmproxy. Returns (the nginx handle or
# undef, whether nginx runs, whether wmproxy runs).
sub start_pair {
    my ($t, $body, $wport, $nport) = @_;
    $t->write_conf("worker_processes 1;\nevents { }\nhttp {\n"
          . $body->($wport) . "}\n");
    my $ng = WmNginx->start($t, http => $body->($nport), port => $nport);
    my $wm = $t->start(workers => 1, ports => [$wport]);
    return ($ng, $ng ? 1 : 0, $wm);
}

# One request on a new connection (Host: localhost:PORT and Connection:
# close added unless a header says otherwise); the response of
# WmHttpClient::read_response.
sub fetch {
    my ($port, $line, @h) = @_;
    my $raw = "$line\r\n";
    $raw .= "Host: localhost:$port\r\n" unless grep { /^Host:/i } @h;
    $raw .= "$_\r\n" for @h;
    $raw .= "Connection: close\r\n" unless grep { /^Connection:/i } @h;
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send("$raw\r\n");
    return $c->read_response(head => scalar($line =~ /^HEAD /));
}

# The parts of a response that should not differ between the two
# servers: status line, body (signature and port replaced) and the named
# header fields ('<none>' when missing).
sub comparable {
    my ($r, $port, @fields) = @_;
    return { error => $r->{error} } if $r->{error};
    my $norm = sub {
        my $s = shift;
        return '<none>' unless defined $s;
        $s =~ s/\b(?:nginx|wmproxy)(?:\/[\d.]+)?(?=<\/center>)/SIGNATURE/g;
        $s =~ s/\b\Q$port\E\b/PORT/g;
        return $s;
    };
    return { line => $r->{line}, body => $norm->($r->{body}),
        map { ($_ => $norm->($r->{h}{$_})) } @fields };
}

1;
