// DNS resolver and mail DNS checks.
[assembly: System.CLSCompliant(false)]
