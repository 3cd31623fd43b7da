// libpcap binding for live capture; see Native/ and LiveCapture.
[assembly: System.Runtime.CompilerServices.DisableRuntimeMarshalling]
