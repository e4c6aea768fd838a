#!/usr/bin/perl
# The man pages cover the binary: every directive that `wmproxy
# --directives` lists has an entry in man/wmproxy.conf.5, and every option
# that `wmproxy -h` prints is described in man/wmproxy.8. Run by `make
# check` with WM_BINARY (the built binary) and WM_SRCDIR (the source tree).
use strict;
use warnings;
use Test::More;

my $bin = $ENV{WM_BINARY} or BAIL_OUT('WM_BINARY is not set');
my $src = $ENV{WM_SRCDIR} // '.';
-x $bin or BAIL_OUT("$bin is not an executable");

# Runs the binary with @args and returns (exit status, stdout and stderr).
sub run {
    my @args = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open(STDERR, '>&', \*STDOUT) or die "dup: $!";
        exec($bin, @args) or die "exec $bin: $!";
    }
    local $/;
    my $out = <$fh> // '';
    close($fh);
    return ($? >> 8, $out);
}

sub slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or BAIL_OUT("cannot read $path: $!");
    local $/;
    return <$fh>;
}

# --- directives -> man/wmproxy.conf.5 -------------------------------------

my ($rc, $out) = run('--directives');
is($rc, 0, 'wmproxy --directives exits with 0');

my (@names, %seen);
for my $line (split /\n/, $out) {
    my @f = split /\t/, $line;
    next unless @f >= 2 && $f[0] =~ /^[a-z_][a-z0-9_]*$/;
    push @names, $f[0] unless $seen{$f[0]}++;
}
cmp_ok(scalar(@names), '>=', 10, 'wmproxy --directives lists at least 10')
    or diag("output was:\n$out");

# An entry is a .TP line followed by `.B name ...` or `.BI "name ...`.
my @conf5 = split /\n/, slurp("$src/man/wmproxy.conf.5");
my %entry;
for my $i (1 .. $#conf5) {
    next unless $conf5[$i - 1] =~ /^\.TP\s*$/;
    if ($conf5[$i] =~ /^\.B\s+"?([A-Za-z_][A-Za-z0-9_]*)(?=[\s"]|$)/
        || $conf5[$i] =~ /^\.BI\s+"([A-Za-z_][A-Za-z0-9_]*)\s/)
    {
        $entry{$1} = 1;
    }
}

for my $name (@names) {
    ok($entry{$name}, "directive $name has an entry in man/wmproxy.conf.5")
        or diag("missing in man/wmproxy.conf.5: directive \"$name\"");
}

# --- options -> man/wmproxy.8 ---------------------------------------------

($rc, $out) = run('-h');
is($rc, 0, 'wmproxy -h exits with 0');

my (@flags, %flag);
for my $line (split /\n/, $out) {
    # The usage line: [-?hvVtTq] groups, [-s signal] single options.
    while ($line =~ /\[-([A-Za-z?]+)[\s\]]/g) {
        my $group = $1;
        for my $c (split //, $group) {
            push @flags, "-$c" unless $flag{"-$c"}++;
        }
    }
    # The option list: `  -?,-h   : this help`, `  --directives  : ...`.
    if ($line =~ /^\s+(-[^\s:]+)/) {
        for my $f (split /,/, $1) {
            push @flags, $f if $f =~ /^--?[A-Za-z?][\w-]*$/ && !$flag{$f}++;
        }
    }
}
cmp_ok(scalar(@flags), '>=', 5, 'wmproxy -h lists its options')
    or diag("output was:\n$out");

# In roff, a dash in an option is written \-; an option is documented when
# a .B, .BI or .BR line names it.
my @man8 = grep { /^\.B[IR]?\s/ } split /\n/, slurp("$src/man/wmproxy.8");
for my $f (@flags) {
    (my $roff = $f) =~ s/-/\\-/g;
    my $found = grep { /\Q$roff\E(?=[\s",]|$)/ } @man8;
    ok($found, "option $f is documented in man/wmproxy.8")
        or diag("missing in man/wmproxy.8: option \"$f\"");
}

done_testing();
