# WmNginx - Debian's nginx next to wmproxy in a test, to compare answers:
# it runs in the foreground as the test's child, with its prefix, logs and
# temporary directories under the test's prefix, and is stopped by its
# pid (also at exit).
#
#   my $n = WmNginx->start($t, http => $http_block_body, port => $port);
#   ...                      # undef when nginx is missing or did not start
#   $n->error_log;           # its error.log so far
#   $n->stop;
package WmNginx;

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep);

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

1;
