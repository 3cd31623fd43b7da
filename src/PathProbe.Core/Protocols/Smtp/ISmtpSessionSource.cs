namespace PathProbe.Protocols.Smtp;

/// <summary>Application state (<see cref="Flows.Flow.App"/>) from which a flow's decoded SMTP session can be read,
/// e.g. for the TUI's transcript. The SMTP analyzer implements it.</summary>
public interface ISmtpSessionSource
{
    SmtpSession Session { get; }
}
