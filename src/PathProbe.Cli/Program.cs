Console.WriteLine("pathprobe");
